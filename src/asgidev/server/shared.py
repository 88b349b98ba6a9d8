"""What every connection of one server shares, computed once from the Config: the app, the scope's
fixed parts, the default headers, the request policy, and the counters and sets shutdown needs."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from asgidev._types import ASGIApp, Headers, Scope
from asgidev.asgi.scope import Address, ProxyTrust, http_scope, websocket_scope
from asgidev.config import Config
from asgidev.host_guard import HostGuard
from asgidev.protocols.events import RequestHead
from asgidev.protocols.headers import DefaultHeaders
from asgidev.server.request_policy import RequestPolicy

# A reload worker's way to pass an idle connection (socket fd, bytes already read) to the next worker.
Handoff = Callable[[int, bytes], None]


class ServerShared:
    """Per-server state read on every request; mutable parts are counters and sets."""

    def __init__(
        self,
        config: Config,
        app: ASGIApp,
        lifespan_state: dict[str, Any] | None,
        *,
        is_tls: bool,
        host_guard: HostGuard,
        is_server_timing: bool,
        handoff: Handoff | None,
    ) -> None:
        self.config = config
        self.app = app
        self.lifespan_state = lifespan_state
        self.root_path = config.root_path
        # TLS changes how shutdown treats idle connections (a TLS session cannot be handed on).
        self.is_tls = is_tls
        self.scheme = "https" if is_tls else "http"
        self.proxy_trust = ProxyTrust(config.forwarded_allow_ips) if config.proxy_headers else None
        self.policy = RequestPolicy(config, host_guard)
        extra: Headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in config.headers]
        if config.server_header:
            extra.insert(0, (b"server", b"asgidev"))
        self.defaults = DefaultHeaders(extra, is_dated=config.date_header)
        self.connections: set[Any] = set()
        self.active_requests = 0
        self.is_access_log = config.access_log
        # Whether responses carry Server-Timing (server/timing.py: it depends on where the server listens).
        self.is_server_timing = is_server_timing
        self.tasks: set[asyncio.Task[None]] = set()
        # Exceptions raised by the app, kept for the embedding API (raise_app_exceptions).
        self.app_exceptions: list[BaseException] = []
        self.is_shutting_down = False
        # Set when shutting down and the last connection has closed.
        self.drained = asyncio.Event()
        # A reload worker's: idle connections are handed to the next worker
        # (socket fd, bytes already read) instead of being closed on shutdown.
        self.handoff = handoff

    def scope_for(
        self,
        head: RequestHead,
        client: Address,
        server: Address,
        *,
        subprotocols: list[str] | None = None,
    ) -> Scope:
        """The ASGI scope of a request on this server (a WebSocket one when ``subprotocols`` is given)."""
        common: dict[str, Any] = {
            "target": head.target,
            "http_version": head.http_version,
            "headers": head.headers,
            "client": client,
            "server": server,
            "scheme": self.scheme,
            "root_path": self.root_path,
            "state": self.lifespan_state,
        }
        scope = http_scope(method=head.method, **common) if subprotocols is None else websocket_scope(subprotocols=subprotocols, **common)
        if self.proxy_trust is not None:
            self.proxy_trust.apply(scope)
        return scope

    def connection_closed(self, connection: Any) -> None:
        self.connections.discard(connection)
        if self.is_shutting_down and not self.connections:
            self.drained.set()

    def default_headers(self, app_headers: Headers) -> Headers:
        """The app's headers plus Server/Date/--header defaults it did not set itself."""
        return self.defaults.merged(app_headers)
