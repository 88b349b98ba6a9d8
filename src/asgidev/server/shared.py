"""What every connection of one server shares, computed once from the Config."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from asgidev import __version__
from asgidev._types import ASGIApp, Headers
from asgidev.asgi.scope import ProxyTrust
from asgidev.config import Config
from asgidev.protocols.http11 import DefaultHeaders
from asgidev.server.host_guard import HostGuard

access_logger = logging.getLogger("asgidev.access")


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
        self.defaults = DefaultHeaders(extra, is_dated=config.date_header)
        self.connections: set[Any] = set()
        self.active_requests = 0
        self.limit_concurrency = config.limit_concurrency
        self.limit_request_body = config.limit_request_body
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
        return self.defaults.merged(app_headers)
