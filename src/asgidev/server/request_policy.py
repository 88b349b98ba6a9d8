"""Which requests the server answers itself instead of the app: 413, the host guard's 400, and 503.

Every limit on a request lives here: ``--limit-request-body`` (judged on the
declared Content-Length before the app runs, and on the bytes counted as a
chunked body arrives, which declares none), the DNS-rebinding host guard
(``host_guard.py``), and ``--limit-concurrency``. Each refusal is a status
and the one-line reason sent as its plain-text body.
"""

from __future__ import annotations

import logging

from asgidev.config import Config
from asgidev.host_guard import HostGuard, rejection_message
from asgidev.protocols.events import RequestHead

logger = logging.getLogger(__name__)

Refusal = tuple[int, str]


class RequestPolicy:
    """The server's refusals for one server's configuration."""

    __slots__ = ("host_guard", "limit_concurrency", "limit_request_body")

    def __init__(self, config: Config, host_guard: HostGuard) -> None:
        self.host_guard = host_guard
        self.limit_request_body = config.limit_request_body
        self.limit_concurrency = config.limit_concurrency

    def refusal(self, head: RequestHead, active_requests: int) -> Refusal | None:
        """Why a request must be answered without the app, or None to serve it."""
        limit = self.limit_request_body
        if limit is not None and head.content_length is not None and head.content_length > limit:
            return self._too_large(limit)
        host = head.host
        if not self.host_guard.is_allowed(host):
            assert host is not None  # the guard judges only a Host that is present
            logger.warning("Refused a request for Host %r (DNS-rebinding protection; see --allowed-host).", host.decode("latin-1")[:100])
            return 400, rejection_message(host)
        if self.limit_concurrency is not None and active_requests >= self.limit_concurrency:
            return 503, "Service Unavailable: the server is at its --limit-concurrency."
        return None

    def body_refusal(self, received_bytes: int) -> Refusal | None:
        """Whether the body bytes received so far break ``--limit-request-body``."""
        limit = self.limit_request_body
        if limit is None or received_bytes <= limit:
            return None
        return self._too_large(limit)

    @staticmethod
    def _too_large(limit: int) -> Refusal:
        return 413, f"Content Too Large: the request body may be at most {limit} bytes (--limit-request-body)."
