"""The reload supervisor: binds the sockets once, runs the app in a worker process, swaps workers on changes.

It never imports the user's app, so nothing the user breaks can take it down.
On a change it starts the new worker at once and tells the old one to stop:
the old worker stops accepting, finishes in-flight requests within the
graceful timeout and hands its idle keep-alive connections back; those, and
any connection queued in the listen backlog meanwhile, are served by the new
worker as soon as it is ready. No connection is refused or reset.

A worker's death is noticed through its control channel (end-of-file); it is
then reaped in a task of the supervisor's task group, on a pidfd, so the
event loop never blocks on a child. The file watcher (watcher.py) runs in the
same task group: every task the supervisor starts has it as owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import os
import signal
import socket
import time
from typing import TYPE_CHECKING

from asgidev import event_loop
from asgidev.config import Config
from asgidev.sockets import bind_sockets
from asgidev.stop_signals import install_supervisor_signals
from asgidev.supervisor.control import (
    ChannelClosedError,
    ControlChannel,
    GoOptions,
    Kind,
    Message,
    config_to_json,
)
from asgidev.supervisor.handed_back import HandedBackConnections
from asgidev.supervisor.handle import Worker, WorkerState
from asgidev.supervisor.spares import Spares
from asgidev.supervisor.spawn import WorkerProcess, spawn_worker, take_early
from asgidev.supervisor.subreaper import Orphans, become_subreaper
from asgidev.supervisor.warm_set import WarmSet
from asgidev.tls import build_ssl_context

if TYPE_CHECKING:
    from asgidev.supervisor.watcher import ChangeBatch

logger = logging.getLogger("asgidev.reload")

# Extra time a stopping worker gets beyond the graceful timeout before SIGKILL.
KILL_MARGIN_S = 2.0
# How long a worker's exit by SIGTERM/SIGHUP waits to be called a crash: long
# enough for our own copy of a group-wide signal to be handled first.
GROUP_SIGNAL_SETTLE_S = 0.1
# Exit codes of a worker stopped by a signal it handles gracefully (it exits 0) or by SIGTERM/SIGHUP itself.
_SIGNALLED_EXITS = frozenset({0, -signal.SIGTERM, -signal.SIGHUP})
# Restart delays for a worker that keeps crashing before it is ready.
CRASH_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)


class SupervisorState(enum.Enum):
    """STARTING -> ANNOUNCED -> STOPPING, or STARTING -> STOPPING (interrupted before any worker came up)."""

    STARTING = enum.auto()  # no worker has come up yet: each new one is asked to print the banner
    ANNOUNCED = enum.auto()  # the banner is out: later workers come up quietly
    STOPPING = enum.auto()  # shutting down: no worker is started, restarted or reloaded from here on


class Supervisor:
    """Owns the listening sockets and the worker processes."""

    def __init__(self, config: Config, sockets: list[socket.socket]) -> None:
        self.config = config
        self.sockets = sockets
        self.workers: list[Worker] = []
        self.current: Worker | None = None
        self.handed_back = HandedBackConnections()
        self.reload_reason = ""
        self.reload_started: float | None = None
        # An APPLY awaiting its answer: (worker, change description, when sent).
        self.pending_apply: tuple[Worker, str, float] | None = None
        self.crash_count = 0
        self.state = SupervisorState.STARTING
        self.warm_set = WarmSet(config, can_seed=become_subreaper())
        self.orphans = Orphans(self.warm_set.can_seed, lambda: {w.process.pid for w in self.workers})
        self.spares = Spares(self.warm_set, self._spawn, self._register, self._retire)
        self._stop = asyncio.Event()
        self._retry: asyncio.TimerHandle | None = None
        self._tasks = asyncio.TaskGroup()
        # Imported here, not at the top: the first worker is already on its way (spawn.py) while watchfiles loads.
        from asgidev.supervisor.watcher import Watcher

        self._watcher = Watcher(config, self._on_changes)

    @property
    def is_stopping(self) -> bool:
        return self.state is SupervisorState.STOPPING

    async def run(self) -> int:
        """Supervise until SIGINT/SIGTERM; returns the exit code."""
        self._install_signals(asyncio.get_running_loop())
        async with self._tasks:
            self.spares.start_first()
            watching = self._tasks.create_task(self._watcher.run())
            # Watch before the first worker serves: an edit made right after the banner appears must not be missed.
            await self._watcher.wait_watching()
            self._start_worker()
            await self._stop.wait()
            watching.cancel()
            await self._stop_all()
        return 0

    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        def on_first(signum: int) -> None:
            logger.info("Shutting down (press CONTROL-C again to stop at once).")
            self._begin_stopping()

        def on_force(signum: int) -> None:
            logger.warning("Second interrupt: stopping at once.")
            for w in self.workers:
                w.kill()
            os._exit(128 + signum)

        install_supervisor_signals(loop, on_first, on_force, lambda: self.reload("SIGHUP"))

    def _begin_stopping(self) -> None:
        """Shutdown is one state, entered here: from now on no worker is started, restarted or reloaded."""
        self.state = SupervisorState.STOPPING
        if self._retry is not None:
            self._retry.cancel()
        self.spares.stop()
        self._stop.set()

    # -- reloading ------------------------------------------------------------

    def _on_changes(self, batch: ChangeBatch) -> None:
        from asgidev.supervisor.watcher import ChangeKind

        match batch.kind:
            case ChangeKind.SWAP_ASSETS:
                self.swap_assets(list(batch.names))
            case ChangeKind.APPLY_IN_PLACE:
                self.apply_in_place(list(batch.paths), batch.describe())
            case ChangeKind.RELOAD:
                self.reload(batch.describe())

    def apply_in_place(self, paths: list[str], reason: str) -> None:
        """Templates or translations changed: ask the worker to drop its caches; it answers RESTART if it cannot."""
        logger.info("Changed: %s. Applying in place.", reason)
        current = self.current
        if current is None or current.state is not WorkerState.SERVING:
            self.reload(reason)
            return
        try:
            current.control.send(Kind.APPLY, json.dumps(paths).encode())
        except OSError:
            self.reload(reason)
            return
        self.pending_apply = (current, reason, time.perf_counter())

    def swap_assets(self, paths: list[str]) -> None:
        """Stylesheets changed: the current worker tells open pages to swap them, no restart."""
        logger.info("Changed: %s. Swapping stylesheets in open pages.", ", ".join(paths))
        current = self.current
        if current is not None and current.is_ready:
            with contextlib.suppress(OSError):
                current.control.send(Kind.ASSETS, json.dumps(paths).encode())

    def reload(self, reason: str) -> None:
        """Start a new worker and retire the current one."""
        if self.is_stopping:
            return
        logger.info("Changed: %s. Reloading.", reason)
        self.pending_apply = None
        self.reload_reason = reason
        self.reload_started = time.perf_counter()
        self.crash_count = 0
        self._swap_worker()

    def _swap_worker(self, *, crash_report: str = "") -> None:
        old = self.current
        self._start_worker(crash_report=crash_report)
        if old is not None:
            self._retire(old)

    def _retire(self, worker: Worker) -> None:
        if worker.state in (WorkerState.STOPPING, WorkerState.EXITING, WorkerState.EXITED):
            return
        if worker is self.spares.spare:
            # A spare waits for GO; end-of-file on its channel tells it to exit.
            self.spares.spare = None
            asyncio.get_running_loop().remove_reader(worker.control.fileno())
            worker.control.sock.shutdown(socket.SHUT_RDWR)
            asyncio.get_running_loop().add_reader(worker.control.fileno(), self._on_control, worker)
            worker.state = WorkerState.STOPPING
            return
        worker.state = WorkerState.STOPPING
        try:
            worker.control.send(Kind.STOP)
        except OSError:
            worker.kill()
        worker.kill_timer = asyncio.get_running_loop().call_later(self.config.timeout_graceful_shutdown + KILL_MARGIN_S, worker.kill)

    # -- worker processes -----------------------------------------------------

    def _start_worker(self, *, crash_report: str = "") -> Worker:
        """Put the spare worker to work (or a fresh one if there is no spare) as the current worker."""
        # Until one worker has come up and printed the banner, each new one is asked to.
        print_banner = self.state is SupervisorState.STARTING
        worker = self.spares.take() or self.spares.take_seed() or self._spawn()
        self.current = worker
        # If it died meanwhile, its end-of-file arrives through _on_control.
        with contextlib.suppress(OSError):
            go = GoOptions(config_to_json(self.config), print_banner, crash_report, self.warm_set.roots)
            worker.control.send(Kind.GO, go.encode(), [s.fileno() for s in self.sockets])
        worker.go(crash_report=crash_report)
        return worker

    def _spawn(self) -> Worker:
        """Start a worker process that waits for GO (or adopt the one started before parsing the command line)."""
        return self._register(*(take_early() or spawn_worker()))

    def _register(self, process: WorkerProcess, control: ControlChannel) -> Worker:
        worker = Worker(process, control)
        self.workers.append(worker)
        asyncio.get_running_loop().add_reader(control.fileno(), self._on_control, worker)
        return worker

    def _on_stale(self, worker: Worker, reason: str) -> None:
        """The spare declined GO (a file it imported changed on disk, say): its seed serves the change, else a cold worker."""
        worker.state = WorkerState.STOPPING  # it exits by itself
        if worker is not self.current or self.is_stopping:
            return
        self.current = None
        if self.spares.seed is not None:
            logger.debug("%s; the seed (a warm spare from before it, seed.py) serves this reload.", reason)
        else:
            logger.info("%s: this reload starts from a fresh interpreter.", reason)
        self._start_worker(crash_report=worker.crash_report)

    def _on_control(self, worker: Worker) -> None:
        try:
            messages = worker.control.receive_available()
        except (ChannelClosedError, OSError):
            self._on_channel_closed(worker)
            return
        for message in messages:
            self._handle(worker, message)

    def _handle(self, worker: Worker, message: Message) -> None:
        if message.kind in (Kind.READY, Kind.BROKEN):
            worker.come_up(is_app=message.kind is Kind.READY, note=message.payload)
            if worker is self.current:
                if self.state is SupervisorState.STARTING:
                    self.state = SupervisorState.ANNOUNCED
                self._on_current_ready(worker)
        elif message.kind in (Kind.APPLIED, Kind.RESTART) and self.pending_apply is not None and self.pending_apply[0] is worker:
            _, reason, started = self.pending_apply
            self.pending_apply = None
            if message.kind is Kind.APPLIED:
                logger.info("Applied in place in %.0f ms, no restart needed (changed: %s)", (time.perf_counter() - started) * 1000, reason)
            else:
                self.reload(reason)
        elif message.kind is Kind.CONN and message.fds:
            self.handed_back.add(message.fds[0], message.payload)
            self._forward_connections()
        elif message.kind is Kind.MODULES:
            new = self.warm_set.learn(message.payload)
            if new and self.spares.spare is not None:
                self.warm_set.ask(self.spares.spare, new)
        elif message.kind is Kind.WARMED:
            if not self.warm_set.note_warmed(worker, message.payload) and worker is self.spares.spare:
                # Some modules failed to import in it: a fresh spare imports the rest (see warm.py).
                self._retire(worker)
                self.spares.start()
            elif worker is self.spares.spare and not self.warm_set.prepare:
                self.spares.drop_seed_later()  # a checkpoint (seed.py): of no use once the spare stops failing
        elif message.kind is Kind.ROOTS:
            self._watch_also(json.loads(message.payload))
        elif message.kind is Kind.PREPARED:
            logger.debug("Spare worker set-up in advance: %s.", message.payload.decode(errors="replace"))
        elif message.kind is Kind.SEED:
            self.spares.keep_seed(worker, message)
        elif message.kind is Kind.STALE:
            self._on_stale(worker, message.payload.decode(errors="replace"))

    def _watch_also(self, roots: list[str]) -> None:
        """Imported code outside site-packages is watched too (the watcher restarts with it), and never warmed."""
        from asgidev.supervisor.watcher import with_more_roots

        config = with_more_roots(self.config, roots)
        if config is not None and not self.is_stopping:
            self.config = config
            self.warm_set.reconfigure(config)
            self._watcher.watch_also(config)

    def _on_current_ready(self, worker: Worker) -> None:
        if worker.state is WorkerState.SERVING:
            self.crash_count = 0
        if self.reload_started is not None:
            elapsed_ms = (time.perf_counter() - self.reload_started) * 1000
            if worker.state is WorkerState.SERVING:
                warm = f"; warm: {worker.warm_modules} modules" if worker.warm_modules else ""
                prepared = "; set-up run in advance" if worker.prepared else ""
                logger.info("Reloaded in %.0f ms (changed: %s%s%s)", elapsed_ms, self.reload_reason, warm, prepared)
            else:
                logger.warning("Reload failed after %.0f ms: serving the error page until the next save fixes it.", elapsed_ms)
            self.reload_started = None
        if worker.state is WorkerState.SERVING:
            self.warm_set.note_setup(worker)
        self._forward_connections()
        self.spares.schedule()

    def _forward_connections(self) -> None:
        self.handed_back.forward(self.current, is_stopping=self.is_stopping)

    def _on_channel_closed(self, worker: Worker) -> None:
        """End-of-file: the worker is exiting (or has). Reap it in a task, so the loop never waits for it."""
        asyncio.get_running_loop().remove_reader(worker.control.fileno())
        worker.control.close()
        self.spares.forget(worker)  # never handed GO from here on
        was_starting = worker.is_starting
        worker.state = WorkerState.EXITING  # no longer ready: connections handed back wait for its successor
        self._tasks.create_task(self._reap(worker, was_starting))

    async def _reap(self, worker: Worker, was_starting: bool) -> None:
        code = await worker.reap()
        self.workers.remove(worker)
        self.orphans.collect()
        if worker is self.current and not self.is_stopping:
            if code in _SIGNALLED_EXITS:
                # Stopped by a signal that may have been sent to the whole group:
                # ours arrives within a loop turn or two; only then is this a crash.
                asyncio.get_running_loop().call_later(GROUP_SIGNAL_SETTLE_S, self._on_crash_unless_stopping, worker, was_starting, code)
            else:
                self._on_crash(was_starting, code)

    def _on_crash_unless_stopping(self, worker: Worker, was_starting: bool, code: int) -> None:
        if worker is self.current and not self.is_stopping:
            self._on_crash(was_starting, code)

    def _on_crash(self, was_starting: bool, code: int) -> None:
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with status {code}"
        if was_starting:
            delay = CRASH_BACKOFF_S[min(self.crash_count, len(CRASH_BACKOFF_S) - 1)]
            self.crash_count += 1
            report = f"The worker process {how} while starting. asgidev retries in {delay:g} s or when you save a file."
            logger.error("Worker %s while starting; retrying in %g s.", how, delay)
            self.current = None
            self._start_worker(crash_report=report)
            if self._retry is not None:
                self._retry.cancel()
            self._retry = asyncio.get_running_loop().call_later(delay, self._retry_after_crash)
        else:
            logger.error("Worker %s; restarting it.", how)
            self.current = None
            self._start_worker()

    def _retry_after_crash(self) -> None:
        self._retry = None
        if self.current is not None and self.current.is_crash_page and not self.is_stopping:
            self._swap_worker()

    async def _stop_all(self) -> None:
        """Stop every worker gracefully, then kill what is left."""
        self._begin_stopping()
        for worker in list(self.workers):
            self._retire(worker)
        waits = [w.exited.wait() for w in self.workers]
        if waits:
            try:
                await asyncio.wait_for(asyncio.gather(*waits), self.config.timeout_graceful_shutdown + 2 * KILL_MARGIN_S)
            except TimeoutError:
                logger.warning("A worker did not stop in time; killing it.")
                for worker in list(self.workers):
                    worker.kill()
        self._forward_connections()
        for sock in self.sockets:
            sock.close()


def run_supervisor(config: Config) -> int:
    """Bind, supervise workers until interrupted, and return the exit code.

    Raises:
        AddressInUseError: the port is taken.
        ConfigError: the address cannot be bound.
    """
    build_ssl_context(config)  # fail fast on a bad certificate, and create the --https one once
    sockets = bind_sockets(config)
    return event_loop.run(Supervisor(config, sockets).run(), config.loop)
