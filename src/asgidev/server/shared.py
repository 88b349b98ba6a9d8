"""What every connection of one server shares, computed once from the Config."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

from asgidev import __version__
from asgidev._types import ASGIApp, Headers
from asgidev.asgi.scope import ProxyTrust
from asgidev.config import Config
from asgidev.server.host_guard import HostGuard

access_logger = logging.getLogger("asgidev.access")


class DateHeader:
    """The ``Date`` header value, formatted at most once a second (RFC 9110 section 6.6.1)."""

    __slots__ = ("_second", "_value")

    def __init__(self) -> None:
        self._second = -1
        self._value = b""

    def value(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second = now
            self._value = formatdate(now, usegmt=True).encode("ascii")
        return self._value


class ServerShared:
    """Per-server state read on every request; mutable parts are counters and sets."""

    def __init__(self, config: Config, app: ASGIApp, lifespan_state: dict[str, Any] | None) -> None:
        self.config = config
        self.app = app
        self.lifespan_state = lifespan_state
        self.root_path = config.root_path
        self.scheme = "http"
        self.proxy_trust = ProxyTrust(config.forwarded_allow_ips) if config.proxy_headers else None
        # Replaced by the server once it knows whether it listens on loopback only.
        self.host_guard = HostGuard(config.allowed_hosts, is_active=False)
        extra: Headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in config.headers]
        if config.server_header:
            extra.insert(0, (b"server", b"asgidev"))
        self.extra_headers = extra
        self.extra_header_names = frozenset(name for name, _ in extra)
        self.date = DateHeader() if config.date_header else None
        self.connections: set[Any] = set()
        self.active_requests = 0
        self.limit_concurrency = config.limit_concurrency
        self.is_access_log = config.access_log
        self.tasks: set[asyncio.Task[None]] = set()
        # Exceptions raised by the app, kept for the embedding API (raise_app_exceptions).
        self.app_exceptions: list[BaseException] = []
        self.is_shutting_down = False
        # Set when shutting down and the last connection has closed.
        self.drained = asyncio.Event()
        # Set by a reload worker: idle connections are handed to the next worker
        # (socket fd, bytes already read) instead of being closed on shutdown.
        self.handoff: Callable[[int, bytes], None] | None = None
        self.version = __version__

    def connection_closed(self, connection: Any) -> None:
        self.connections.discard(connection)
        if self.is_shutting_down and not self.connections:
            self.drained.set()

    def default_headers(self, app_headers: Headers) -> Headers:
        """The app's headers plus Server/Date/--header defaults it did not set itself."""
        extra = self.extra_headers
        date = self.date
        if not extra and date is None:
            return list(app_headers)
        names = {name for name, _ in app_headers} if app_headers else ()
        headers = [h for h in extra if h[0] not in names] if names else list(extra)
        if date is not None and b"date" not in names:
            headers.append((b"date", date.value()))
        headers.extend(app_headers)
        return headers
