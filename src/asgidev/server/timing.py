"""The opt-in ``Server-Timing`` response header: the app's time and the server's own, for browser devtools.

W3C Server Timing: browsers show each metric of the header in the network
panel's Timing tab. The header goes out with the response head, so it can only
tell what is known then:

- ``app``: from calling the app until it sent its first body (the head leaves
  with it): the view, the middleware, the database.
- ``server``: asgidev's own time before the app was called: reading and
  parsing the request head, the host check, building the scope, scheduling.

Timings tell an observer how long code paths take, which is why the header is
off by default and, with ``--server-timing loopback``, only sent while the
server is bound to loopback addresses (``--server-timing always`` also on
network binds).
"""

from __future__ import annotations

import logging
import time

from asgidev.config import Config

logger = logging.getLogger(__name__)

HEADER_NAME = b"server-timing"


def is_server_timing_on(config: Config, *, is_loopback_bind: bool) -> bool:
    """Whether responses carry the header, given the option and where the server listens."""
    if config.server_timing == "off":
        return False
    if config.server_timing == "loopback" and not is_loopback_bind:
        logger.warning(
            "Server-Timing is off: the server is not bound to loopback addresses only, and the header would tell "
            "anyone who can reach it how long your code takes. Use --server-timing always to send it anyway."
        )
        return False
    return True


def header_value(received_at: float, app_called_at: float) -> bytes:
    """The header's value now that the response head is being written (``perf_counter`` times)."""
    now = time.perf_counter()
    app_ms = (now - app_called_at) * 1000 if app_called_at else 0.0
    server_ms = ((app_called_at or now) - received_at) * 1000
    return b'app;dur=%.3f;desc="ASGI app", server;dur=%.3f;desc="asgidev"' % (app_ms, max(server_ms, 0.0))
