"""One timer per connection, re-armed lazily.

A connection guards whichever wait is current (request head, request body,
idle keep-alive) with one deadline. Moving the deadline only stores a number;
the event loop's timer is re-armed when it fires early. So a busy keep-alive
connection does not schedule and cancel a loop timer for every request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Deadline:
    """Calls ``on_expiry`` once the current deadline passes, unless cleared first."""

    __slots__ = ("_handle", "_loop", "_on_expiry", "is_idle", "when")

    def __init__(self, loop: asyncio.AbstractEventLoop, on_expiry: Callable[[], None]) -> None:
        self._loop = loop
        self._on_expiry = on_expiry
        self._handle: asyncio.TimerHandle | None = None
        self.when: float | None = None
        # The deadline guards an idle keep-alive connection (not a request in progress).
        self.is_idle = False

    @property
    def is_set(self) -> bool:
        return self.when is not None

    def set(self, seconds: float, *, is_idle: bool = False) -> None:
        when = self._loop.time() + seconds
        self.when = when
        self.is_idle = is_idle
        handle = self._handle
        if handle is None or when < handle.when():
            if handle is not None:
                handle.cancel()
            self._handle = self._loop.call_at(when, self._fire)

    def clear(self) -> None:
        """No deadline for now (the pending loop timer, if any, will find none and rest)."""
        self.when = None

    def stop(self) -> None:
        """No deadline ever again: the connection is gone."""
        self.when = None
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        when = self.when
        if when is None:
            return
        if self._loop.time() < when:
            self._handle = self._loop.call_at(when, self._fire)
            return
        self.when = None
        self._on_expiry()
