"""Signal handling for the process that owns the server (the CLI without reload, or a worker).

First SIGINT/SIGTERM: graceful shutdown. Second: exit at once.
The embedding API never installs these.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable

logger = logging.getLogger(__name__)

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def install_shutdown_handlers(request_shutdown: Callable[[], None], signals: tuple[signal.Signals, ...] = SHUTDOWN_SIGNALS) -> None:
    """Route ``signals`` to ``request_shutdown`` on the running loop; a second one exits immediately."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            request_shutdown()
        else:
            logger.warning("Second signal received: exiting at once.")
            os._exit(128 + signum)

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
