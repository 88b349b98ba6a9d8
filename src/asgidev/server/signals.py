"""Signal and loop-error handling for the process that owns the server (the CLI without reload, or a worker).

First SIGINT/SIGTERM/SIGHUP: graceful shutdown. A second Ctrl+C: exit at once.
The embedding API never installs these.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable

logger = logging.getLogger(__name__)

# SIGHUP too: a closed terminal ends the server, as it ends runserver and uvicorn.
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stop_signal_handler(on_first: Callable[[int], None], on_force: Callable[[int], None]) -> Callable[[int], None]:
    """A handler calling ``on_first`` for the first stop signal and ``on_force`` for a second Ctrl+C.

    Only a repeated SIGINT means "stop at once": a person pressed Ctrl+C again.
    A SIGTERM or SIGHUP sent to the whole process group (``timeout``, systemd,
    ``kill -TERM -PGID``, a closed terminal) can reach a process twice, once
    addressed to it and once to its group; that counts once.
    """
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            on_first(signum)
        elif signum == signal.SIGINT:
            on_force(signum)

    return on_signal


def install_shutdown_handlers(request_shutdown: Callable[[], None], signals: tuple[signal.Signals, ...] = SHUTDOWN_SIGNALS) -> None:
    """Route ``signals`` to ``request_shutdown`` on the running loop; a second Ctrl+C exits immediately."""
    loop = asyncio.get_running_loop()

    def on_first(_signum: int) -> None:
        logger.info("Shutting down (press CONTROL-C again to stop at once).")
        request_shutdown()

    def on_force(signum: int) -> None:
        logger.warning("Second interrupt: exiting at once.")
        os._exit(128 + signum)

    handler = stop_signal_handler(on_first, on_force)
    for sig in signals:
        loop.add_signal_handler(sig, handler, sig)


def has_controlling_terminal() -> bool:
    """Whether this process still has a terminal (False once it hung up: the window closed, ssh dropped)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


# Out of file descriptors, asyncio's accept loop reports every failed accept
# (up to the listen backlog at a time); one line a second is enough.
ACCEPT_ERROR_LOG_INTERVAL_S = 1.0


def install_loop_error_handler() -> None:
    """Summarise accept() failures from running out of file descriptors instead of logging each."""
    loop = asyncio.get_running_loop()
    last_logged = [0.0]

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        message = str(context.get("message", ""))
        exc = context.get("exception")
        if "socket.accept() out of system resource" in message:
            now = time.monotonic()
            if now - last_logged[0] >= ACCEPT_ERROR_LOG_INTERVAL_S:
                last_logged[0] = now
                logger.warning(
                    "Out of file descriptors (%s): new connections wait until others close. Raise the limit (ulimit -n) or use --limit-concurrency.",
                    exc,
                )
            return
        if isinstance(exc, ValueError) and "Invalid file descriptor" in str(exc):
            return  # accept retries scheduled before the listener closed
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
