"""Start a worker process that waits for GO, and the one started before the command line is parsed.

Kept to the standard library and the control channel so that ``asgidev``
can start its first worker before importing typer: the worker's imports then
overlap with argument parsing, socket binding and the supervisor's own imports.

That first worker is forked, not executed anew: at that point the process is
a bare interpreter (one thread, no event loop, nothing of asgidev loaded but
this module), so the child skips Python's own start-up, which is about a
fifth of the time to the first response. Later workers start while the
supervisor runs threads and an event loop, where forking is unsafe, so they
are fresh interpreters (``python -m asgidev.supervisor.worker``).
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
from typing import Protocol

from asgidev.supervisor.handoff import ENV_APP_DIR, ENV_CONTROL_FD, ControlChannel

# Options after which no reload worker will be wanted: don't start one early for them.
_NO_WORKER_FLAGS = frozenset({"--no-reload", "--noreload", "--help", "-h", "--version"})


class WorkerProcess(Protocol):
    """What the supervisor needs of a worker process (``subprocess.Popen`` has it)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


class ForkedProcess:
    """A forked child, with the part of ``subprocess.Popen``'s interface the supervisor uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit (polling, as ``Popen.wait`` with a timeout does); raises ``subprocess.TimeoutExpired``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return code

    def kill(self) -> None:
        if self.returncode is None:  # not reaped yet, so the pid is still ours (a zombie at worst)
            os.kill(self.pid, signal.SIGKILL)


_early: tuple[WorkerProcess, ControlChannel] | None = None


def spawn_worker(app_dir: str | None = None) -> tuple[WorkerProcess, ControlChannel]:
    """A worker process waiting on its control channel; ``app_dir`` lets it pre-import what the app needs."""
    control, theirs = ControlChannel.pair()
    env = dict(os.environ)
    env[ENV_CONTROL_FD] = str(theirs.fileno())
    if app_dir is None:
        env.pop(ENV_APP_DIR, None)
    else:
        env[ENV_APP_DIR] = app_dir
    process = subprocess.Popen([sys.executable, "-m", "asgidev.supervisor.worker"], env=env, pass_fds=(theirs.fileno(),))
    theirs.close()
    return process, control


def _fork_worker() -> tuple[WorkerProcess, ControlChannel]:
    """A worker forked from this still-bare process (see the module docstring)."""
    # asyncio is the largest import the two processes share: imported once,
    # here, the child has it for free and the machine does that work once.
    import asyncio  # noqa: F401

    control, theirs = ControlChannel.pair()
    # Ctrl+C is the supervisor's to handle: the child is born ignoring it,
    # so not even one pressed during the fork can interrupt it.
    sigint_handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    pid = os.fork()
    if pid == 0:
        # The worker. Its copy of the supervisor's end must go, or the
        # supervisor's death would never reach it as end-of-file.
        control.close()
        from asgidev.supervisor import worker

        # As in workers started later, sys.argv names the worker module, not asgidev's options.
        sys.argv[:] = [worker.__file__]
        # Leave through SystemExit, not os._exit, so the app's atexit hooks and
        # logging flush run as in any worker. Nothing above catches it.
        raise SystemExit(worker.run_worker(theirs))
    signal.signal(signal.SIGINT, sigint_handler)
    theirs.close()
    return ForkedProcess(pid), control


def spawn_early(argv: list[str]) -> None:
    """Start the first worker now, unless the command line clearly will not need one."""
    global _early
    if _NO_WORKER_FLAGS.intersection(argv) or _early is not None:
        return
    _early = _fork_worker() if hasattr(os, "fork") else spawn_worker()
    atexit.register(_discard_early)


def take_early() -> tuple[WorkerProcess, ControlChannel] | None:
    """The early worker, for the supervisor to adopt (only once)."""
    global _early
    early, _early = _early, None
    return early


def _discard_early() -> None:
    """Not adopted (an error, or --no-reload after all): end it. Closing its channel makes it exit."""
    early = take_early()
    if early is not None:
        process, control = early
        control.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
