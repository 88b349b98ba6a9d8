"""Idle client connections a stopping worker handed back, held until the next worker is ready for them.

A reload must not close a keep-alive connection: the old worker passes each
idle one back over its control channel (CONN, with the descriptor and any
bytes already read), and the supervisor passes it on to the new worker once
that one serves. The queue keeps their order.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque

from asgidev.supervisor.control import Kind
from asgidev.supervisor.handle import Worker, WorkerState


class HandedBackConnections:
    """Descriptors owned by the supervisor between two workers: each is passed on or closed, never leaked."""

    def __init__(self) -> None:
        self._queue: deque[tuple[int, bytes]] = deque()

    def add(self, fd: int, pending: bytes) -> None:
        self._queue.append((fd, pending))

    def forward(self, to: Worker | None, *, is_stopping: bool) -> None:
        """Pass the queue on to ``to`` once it is ready; close it when there will be no worker to take it."""
        while self._queue:
            fd, pending = self._queue[0]
            if is_stopping or to is None or to.state is WorkerState.EXITED:
                os.close(fd)
            elif not to.is_ready:
                return
            else:
                with contextlib.suppress(OSError):
                    to.control.send(Kind.CONN, pending, [fd])
                os.close(fd)
            self._queue.popleft()
