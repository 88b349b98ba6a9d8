"""The supervisor's handle on one worker process: its state and its end of the control channel."""

from __future__ import annotations

import asyncio
import enum

from asgidev.supervisor.handoff import ControlChannel
from asgidev.supervisor.spawn import WorkerProcess


class WorkerState(enum.Enum):
    """STARTING -> SERVING | BROKEN -> STOPPING -> EXITED (EXITED may come at any point)."""

    STARTING = enum.auto()
    SERVING = enum.auto()
    BROKEN = enum.auto()
    STOPPING = enum.auto()
    EXITED = enum.auto()


class Worker:
    """One worker subprocess and the supervisor's end of its control channel."""

    def __init__(self, process: WorkerProcess, control: ControlChannel, *, is_crash_page: bool) -> None:
        self.process = process
        self.control = control
        self.state = WorkerState.STARTING
        self.is_crash_page = is_crash_page
        self.exited = asyncio.Event()
        self.kill_timer: asyncio.TimerHandle | None = None
        # How many modules it imported in advance as a spare (see warm.py); 0 when cold.
        self.warm_modules = 0

    @property
    def is_ready(self) -> bool:
        return self.state in (WorkerState.SERVING, WorkerState.BROKEN)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
