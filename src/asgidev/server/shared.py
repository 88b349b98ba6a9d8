"""What every connection of one server shares, computed once from the Config."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from asgidev._types import ASGIApp, Headers, Scope
from asgidev.asgi.http import HTTPCycle
from asgidev.asgi.scope import Address, ProxyTrust, http_scope, websocket_scope
from asgidev.config import Config
from asgidev.log import direct_access_console
from asgidev.protocols.events import RequestHead
from asgidev.protocols.headers import DefaultHeaders
from asgidev.server.host_guard import HostGuard, rejection_message

# A reload worker's way to pass an idle connection (socket fd, bytes already read) to the next worker.
Handoff = Callable[[int, bytes], None]

access_logger = logging.getLogger("asgidev.access")
logger = logging.getLogger(__name__)


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
        self.scheme = "https" if is_tls else "http"
        self.proxy_trust = ProxyTrust(config.forwarded_allow_ips) if config.proxy_headers else None
        self.host_guard = host_guard
        extra: Headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in config.headers]
        if config.server_header:
            extra.insert(0, (b"server", b"asgidev"))
        self.defaults = DefaultHeaders(extra, is_dated=config.date_header)
        self.connections: set[Any] = set()
        self.active_requests = 0
        self.limit_concurrency = config.limit_concurrency
        self.limit_request_body = config.limit_request_body
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

    def refusal(self, host: bytes | None, content_length: int | None) -> tuple[int, str] | None:
        """Why a request must be answered without the app (status, one-line reason), or None to serve it."""
        limit = self.limit_request_body
        if limit is not None and content_length is not None and content_length > limit:
            return 413, f"Content Too Large: the request body may be at most {limit} bytes (--limit-request-body)."
        if not self.host_guard.is_allowed(host):
            assert host is not None
            logger.warning("Refused a request for Host %r (DNS-rebinding protection; see --allowed-host).", host.decode("latin-1")[:100])
            return 400, rejection_message(host)
        if self.limit_concurrency is not None and self.active_requests >= self.limit_concurrency:
            return 503, "Service Unavailable: the server is at its --limit-concurrency."
        return None

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


def request_line(scope: Scope) -> str:
    """``GET /polls/?page=2 HTTP/1.1``: the request line as the client sent it, for access lines."""
    target = scope["raw_path"].decode("latin-1")
    if scope["query_string"]:
        target += "?" + scope["query_string"].decode("latin-1")
    return f"{scope['method']} {target} HTTP/{scope['http_version']}"


def log_refusal(line: str, status: int, body_bytes: int, client: Address | None) -> None:
    """The access line of a response the server gave without the app: ``line`` is ``-`` when the request never parsed."""
    access_logger.info(
        '"%s" %d %d %s', line, status, body_bytes, f"{client[0]}:{client[1]}" if client else "-", extra={"status_code": status}
    )


def log_access(cycle: HTTPCycle, body_bytes: int, note: str = "") -> None:
    """One access-log line for a response, runserver-style plus the duration, the body bytes sent and the client.

    ``note`` says how a response that did not complete ended (the client left).
    """
    scope = cycle.scope
    elapsed_ms = (time.perf_counter() - cycle.started_at) * 1000
    client = scope.get("client")
    peer = f"{client[0]}:{client[1]}" if client else "-"
    suffix = f" ({note})" if note else ""
    console = direct_access_console()
    if console is not None:
        # The very line logging would write, without a LogRecord (see log.ConsoleHandler).
        console.write_access(f'"{request_line(scope)}" {cycle.status} {body_bytes} {elapsed_ms:.1f}ms {peer}{suffix}', cycle.status)
        return
    access_logger.info(
        '"%s" %d %d %.1fms %s%s',
        request_line(scope),
        cycle.status,
        body_bytes,
        elapsed_ms,
        peer,
        suffix,
        extra={"status_code": cycle.status},
    )
