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

from asgidev.stop_signals import stop_signal_handler

logger = logging.getLogger(__name__)

# SIGHUP too: a closed terminal ends the server, as it ends runserver and uvicorn.
SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


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
