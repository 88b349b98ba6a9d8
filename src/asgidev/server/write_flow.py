"""Write-side flow control shared by the HTTP and WebSocket protocols.

asyncio calls ``pause_writing`` when a transport's buffer passes its high-water
mark (the client is not reading) and ``resume_writing`` once it drains. The
app's ``send()`` then waits on ``wait()``, so a client that never reads cannot
grow the server's memory.
"""

from __future__ import annotations

import asyncio


class WriteFlow:
    """Whether the client is keeping up, and a future for senders to wait on while it is not."""

    __slots__ = ("_loop", "_waiter", "is_paused")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None
        self.is_paused = False

    def pause(self) -> None:
        self.is_paused = True

    def resume(self) -> None:
        self.is_paused = False
        self.wake()

    def wait(self, transport: asyncio.BaseTransport) -> asyncio.Future[None] | None:
        """A future to await while paused, or None (the fast path; also once the transport is closing)."""
        if not self.is_paused or transport.is_closing():
            return None
        if self._waiter is None:
            self._waiter = self._loop.create_future()
        return self._waiter

    def wake(self) -> None:
        """Release waiting senders (resumed, or the connection is gone)."""
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)
