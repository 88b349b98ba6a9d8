"""Write-side flow control shared by the HTTP and WebSocket protocols.

asyncio calls ``pause_writing`` when a transport's buffer passes its high-water
mark (the client is not reading) and ``resume_writing`` once it drains. The
app's ``send()`` then waits on ``wait()``, so a client that never reads cannot
grow the server's memory past one buffer.

That buffer would still be held for as long as the client keeps the
connection open, and so would the app's task waiting to send. So every write
goes through ``write``: while bytes wait in the transport, a timer checks that
the client accepts some of them at least once per ``--timeout-write``
seconds, and calls ``on_stall`` (the connection aborts) when it does not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class WriteFlow:
    """Whether the client is keeping up, a future for senders to wait on while it is not, and the write-progress timer."""

    __slots__ = ("_accepted", "_loop", "_on_stall", "_timeout", "_timer", "_waiter", "_written", "is_paused")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float, on_stall: Callable[[], None]) -> None:
        self._loop = loop
        self._waiter: asyncio.Future[None] | None = None
        self.is_paused = False
        self._timeout = timeout
        self._on_stall = on_stall
        self._timer: asyncio.TimerHandle | None = None
        # Bytes handed to the transport, and how many of them the client had taken at the last check.
        self._written = 0
        self._accepted = 0

    def write(self, transport: asyncio.WriteTransport, data: bytes) -> None:
        """``transport.write(data)``, watching that the client keeps taking what is buffered."""
        transport.write(data)
        self._written += len(data)
        if self._timer is None:
            buffered = transport.get_write_buffer_size()
            if buffered:
                self._accepted = self._written - buffered
                self._timer = self._loop.call_later(self._timeout, self._check, transport)

    def _check(self, transport: asyncio.WriteTransport) -> None:
        self._timer = None
        buffered = transport.get_write_buffer_size()
        if not buffered:
            return  # all sent; the next write that has to wait re-arms the check
        accepted = self._written - buffered
        if accepted > self._accepted:
            self._accepted = accepted
            self._timer = self._loop.call_later(self._timeout, self._check, transport)
        else:
            self._on_stall()

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

    def stop(self) -> None:
        """The connection is gone: release senders, and no more checks."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.wake()
