"""The access log: every line the ``asgidev.access`` logger writes is formatted here, and only here.

HTTP lines are runserver-style plus what a developer asks next: the body
bytes sent, the duration and the client (``"GET /?q HTTP/1.1" 200 13 0.4ms
127.0.0.1:50312``). A response the server gave without the app has no
duration; a request that never parsed shows ``-`` for its line. WebSocket
lines say how the handshake was answered (accepted, denied, refused) and, at
the end, who closed the connection with which code. Each record carries
``status_code`` for the console's colours.
"""

from __future__ import annotations

import enum
import logging
import time

from asgidev._types import Scope
from asgidev.asgi.http import HTTPCycle
from asgidev.asgi.scope import Address
from asgidev.log import direct_access_console
from asgidev.protocols.events import RequestHead

access_logger = logging.getLogger("asgidev.access")


class ClosedBy(enum.Enum):
    """Which side started ending a WebSocket connection, as its last access line says."""

    CLIENT = "client"
    SERVER = "server"


def target(scope: Scope) -> str:
    """``/polls/?page=2``: the path and query as the client sent them."""
    raw_path: bytes = scope["raw_path"]
    query: bytes = scope["query_string"]
    return raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")


def request_line(scope: Scope) -> str:
    """``GET /polls/?page=2 HTTP/1.1``: the request line as the client sent it."""
    return f"{scope['method']} {target(scope)} HTTP/{scope['http_version']}"


def head_line(head: RequestHead) -> str:
    """The request line of a request refused before it had a scope (the host guard, a body limit)."""
    return f"{head.method.decode('latin-1')} {head.target.decode('latin-1')} HTTP/{head.http_version.decode('latin-1')}"


def _peer(client: Address | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "-"


def log_response(cycle: HTTPCycle, body_bytes: int, note: str = "") -> None:
    """The line of a response the app gave; ``note`` says how one that did not complete ended (the client left)."""
    scope = cycle.scope
    elapsed_ms = (time.perf_counter() - cycle.started_at) * 1000
    peer = _peer(scope.get("client"))
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


def log_refusal(line: str, status: int, body_bytes: int, client: Address | None) -> None:
    """The line of a response the server gave without the app: ``line`` is ``-`` when the request never parsed."""
    access_logger.info('"%s" %d %d %s', line, status, body_bytes, _peer(client), extra={"status_code": status})


def log_websocket_refused(path: str, status: int, reason: str) -> None:
    """The handshake was refused before the app saw it (a bad handshake, the server shutting down)."""
    access_logger.info('"WebSocket %s" %d %s', path, status, reason, extra={"status_code": status})


def log_websocket_accepted(scope: Scope) -> None:
    access_logger.info('"WebSocket %s" 101 accepted', target(scope), extra={"status_code": 101})


def log_websocket_denied(scope: Scope, status: int, started_at: float) -> None:
    """The app answered the handshake with an HTTP response (the WebSocket Denial Response extension)."""
    elapsed_ms = (time.perf_counter() - started_at) * 1000
    access_logger.info('"WebSocket %s" %d denied %.1fms', target(scope), status, elapsed_ms, extra={"status_code": status})


def log_websocket_failed(scope: Scope, status: int) -> None:
    """The server answered the handshake with an error because the app did not (or sent an invalid answer)."""
    access_logger.info('"WebSocket %s" %d', target(scope), status, extra={"status_code": status})


def log_websocket_closed(scope: Scope, code: int, closed_by: ClosedBy, started_at: float) -> None:
    elapsed = time.perf_counter() - started_at
    access_logger.info('"WebSocket %s" closed %d by %s after %.1fs', target(scope), code, closed_by.value, elapsed)
