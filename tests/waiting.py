"""Waiting on an observable condition with a deadline: the one way tests wait (STYLE.md: never sleep to synchronise).

``wait_until(condition)`` asks ``condition()`` until it returns something true,
and returns that (a response, a regex match). It is for conditions only
observable by asking: a process's exit, a page a reload changes, a port that
starts refusing. Where an event exists (a line printed: ``ServerProcess.wait_for_line``),
wait on the event instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

# Between two asks: short enough that a test waits at most this long past the moment
# the condition holds, long enough not to compete with the server for the CPU.
DEFAULT_INTERVAL_S = 0.02
DEFAULT_TIMEOUT_S = 10.0


class Deadline:
    """``timeout`` seconds from now."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._end = time.monotonic() + timeout

    @property
    def has_passed(self) -> bool:
        return time.monotonic() > self._end


def wait_until(
    condition: Callable[[], T | None],
    timeout: float = DEFAULT_TIMEOUT_S,
    *,
    interval: float = DEFAULT_INTERVAL_S,
    retry_on: tuple[type[Exception], ...] = (),
    what: str = "the condition",
    detail: Callable[[], str] | None = None,
) -> T:
    """Ask ``condition()`` every ``interval`` until it returns something true; return it.

    An exception in ``retry_on`` counts as "not yet" (a server not yet listening); any other propagates.

    Raises:
        TimeoutError: not true within ``timeout``; says ``what``, then ``detail()`` (the output so far, say),
            chained to the last exception retried, if any.
    """
    deadline = Deadline(timeout)
    while True:
        error, result = _ask(condition, retry_on)
        if result:
            return result
        if deadline.has_passed:
            raise _timed_out(what, timeout, detail) from error
        time.sleep(interval)


async def wait_until_async(
    condition: Callable[[], T | None],
    deadline_s: float = DEFAULT_TIMEOUT_S,
    *,
    interval: float = 0.005,
    what: str = "the condition",
    detail: Callable[[], str] | None = None,
) -> T:
    """``wait_until`` for a condition on this event loop (a server in this process): sleeps without blocking it.

    Raises:
        TimeoutError: not true within ``deadline_s``.
    """
    deadline = Deadline(deadline_s)
    while not (result := condition()):
        if deadline.has_passed:
            raise _timed_out(what, deadline_s, detail)
        await asyncio.sleep(interval)
    return result


def _ask(condition: Callable[[], T | None], retry_on: tuple[type[Exception], ...]) -> tuple[Exception | None, T | None]:
    try:
        return None, condition()
    except retry_on as exc:
        return exc, None


def _timed_out(what: str, timeout: float, detail: Callable[[], str] | None) -> TimeoutError:
    message = f"timed out after {timeout:g} s waiting for {what}"
    return TimeoutError(f"{message}:\n{detail()}" if detail is not None else message)
