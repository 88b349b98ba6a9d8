"""The supervisor's handle on one worker process: its state, its end of the control channel, and its reaping."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import os

from asgidev.supervisor.control import ControlChannel
from asgidev.supervisor.spawn import WorkerProcess


class WorkerState(enum.Enum):
    """A worker's life, as the supervisor sees it.

    STARTING ---READY---> SERVING            the app loaded
        `-----BROKEN----> BROKEN             the app failed to load: the error page, until a save fixes it
    CRASH_PAGE_STARTING --BROKEN--> CRASH_PAGE
                                             GO carried a crash report (the worker before it died while
                                             starting): the page saying so, swapped for a retry after a back-off
    any of these -> STOPPING -> EXITING -> EXITED
                                             EXITING: its channel closed, so it is exiting (or has): reaped next.
                                             EXITING may come at any point (the process died), then EXITED.
    """

    STARTING = enum.auto()
    CRASH_PAGE_STARTING = enum.auto()
    SERVING = enum.auto()
    BROKEN = enum.auto()
    CRASH_PAGE = enum.auto()
    STOPPING = enum.auto()
    EXITING = enum.auto()
    EXITED = enum.auto()


# Up and answering requests (so it can take connections and asset swaps): the app, its error page, or the crash page.
_READY_STATES = frozenset({WorkerState.SERVING, WorkerState.BROKEN, WorkerState.CRASH_PAGE})
_STARTING_STATES = frozenset({WorkerState.STARTING, WorkerState.CRASH_PAGE_STARTING})
_CRASH_PAGE_STATES = frozenset({WorkerState.CRASH_PAGE_STARTING, WorkerState.CRASH_PAGE})
# How long a worker that has closed its control channel may take to exit before it is killed:
# it closes the channel as it exits, so past this it is stuck in exiting (a hung atexit hook, say).
EXIT_TIMEOUT_S = 2.0


class Worker:
    """One worker subprocess and the supervisor's end of its control channel."""

    def __init__(self, process: WorkerProcess, control: ControlChannel) -> None:
        self.process = process
        self.control = control
        self.state = WorkerState.STARTING
        self.exited = asyncio.Event()
        self.kill_timer: asyncio.TimerHandle | None = None
        # How many modules it imported in advance as a spare (see warm.py); 0 when cold.
        self.warm_modules = 0
        self.crash_report = ""
        # From its READY: whether it served from the app's set-up run in advance (see prepared.py), how long
        # its set-up took, and whether that was Django's (the one a spare can run in advance).
        self.prepared = False
        self.setup_ms = 0.0
        self.is_django = False

    @property
    def is_ready(self) -> bool:
        return self.state in _READY_STATES

    @property
    def is_starting(self) -> bool:
        return self.state in _STARTING_STATES

    @property
    def is_crash_page(self) -> bool:
        return self.state in _CRASH_PAGE_STATES

    def go(self, *, crash_report: str) -> None:
        """GO was sent: a worker told to show the crash page is in that state from now on."""
        self.crash_report = crash_report  # for its successor, if it declines GO
        if crash_report and self.state is WorkerState.STARTING:
            self.state = WorkerState.CRASH_PAGE_STARTING

    def come_up(self, *, is_app: bool, note: bytes = b"") -> None:
        """READY (``is_app``) or BROKEN arrived: the transitions of ``WorkerState`` out of its starting states.

        ``note``: the message's payload, about the app's set-up (JSON; empty from a worker serving an error page).
        """
        if note:
            with contextlib.suppress(ValueError, AttributeError, TypeError):
                fields = json.loads(note)
                self.prepared, self.setup_ms, self.is_django = bool(fields["prepared"]), float(fields["setup_ms"]), bool(fields["django"])
        if self.state is WorkerState.STARTING:
            self.state = WorkerState.SERVING if is_app else WorkerState.BROKEN
        elif self.state is WorkerState.CRASH_PAGE_STARTING:
            self.state = WorkerState.CRASH_PAGE

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()

    async def reap(self) -> int:
        """Wait for the exit (killing a worker stuck in exiting), record it, and return the exit code."""
        try:
            async with asyncio.timeout(EXIT_TIMEOUT_S):
                code = await self._wait_exit()
        except TimeoutError:
            self.kill()
            code = await self._wait_exit()
        if self.kill_timer is not None:
            self.kill_timer.cancel()
        self.state = WorkerState.EXITED
        self.exited.set()
        return code

    async def _wait_exit(self) -> int:
        """Collect the process's exit code, without blocking the event loop.

        Waits on a pidfd (readable once the process has exited) where the OS has
        them (Linux 5.3+), else in a thread.
        """
        if (code := self.process.poll()) is not None:
            return code
        try:
            pidfd = os.pidfd_open(self.process.pid)
        except (AttributeError, OSError):  # no pidfds here, or reaped by someone else: the thread sees which
            return await asyncio.to_thread(self.process.wait)
        loop = asyncio.get_running_loop()
        exited = asyncio.Event()
        loop.add_reader(pidfd, exited.set)
        try:
            await exited.wait()
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)
        return self.process.wait()  # it has exited: this only collects the status
