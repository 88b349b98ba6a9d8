"""Leaving the process once the server is done, whatever threads the app left running.

Python joins every non-daemon thread before it exits, so a thread the app
started (a scheduler, a queue consumer, a ``threading.Thread`` in a module)
would keep ``asgidev --no-reload`` alive after SIGTERM, and every old reload
worker alive until the supervisor's grace period ran out. A development
server's process ends when its server has: once the connections and the
lifespan have shut down, the process owner (the CLI's ``--no-reload`` path
and the reload worker, never the embedding API) calls ``exit_if_app_threads``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading

logger = logging.getLogger(__name__)


def app_threads() -> list[threading.Thread]:
    """Non-daemon threads other than the main one that are still running."""
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]


def exit_if_app_threads(code: int) -> None:
    """Exit with ``code`` now, without joining them, if app threads still run; else return (a normal exit follows).

    Logging and the standard streams are flushed first. The app's ``atexit``
    hooks do not run on this path: one of them may well wait for those threads.
    """
    remaining = app_threads()
    if not remaining:
        return
    names = ", ".join(sorted(t.name for t in remaining)[:5])
    logger.debug("Exiting without waiting for %d thread(s) the app left running: %s.", len(remaining), names)
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing more to save
            stream.flush()
    os._exit(code)
