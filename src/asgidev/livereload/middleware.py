"""The live-reload ASGI middleware: owns ``/__asgidev__/`` and injects the client script into HTML.

Wrapped around the user's app by the reload worker when ``--live-reload`` is
on. Requests under the reserved prefix are answered here and never reach the
app. HTML responses whose whole body comes in one message get one script tag
before ``</body>`` (Content-Length fixed), and a HEAD for such a page reports
the Content-Length its GET gets; responses without a body (204, 304),
streamed and compressed ones pass untouched, and so do pages whose
Content-Security-Policy would block the script (logged once per path). The
WebSocket answers only pages of this server: a cross-site Origin gets 403.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from importlib import resources
from urllib.parse import parse_qs

from asgidev._types import ASGIApp, Message, Receive, Scope, Send
from asgidev.config import Config
from asgidev.host_guard import HostGuard, origin_authority

logger = logging.getLogger(__name__)

PREFIX = b"/__asgidev__/"
SCRIPT_PATH = PREFIX + b"live-reload.js"
SOCKET_PATH = PREFIX + b"live-reload"
# Messages waiting for a slow browser tab; past this the oldest are dropped
# (a tab that does not read needs a reload anyway).
MAX_QUEUED_MESSAGES = 16
# Paths whose CSP refusal was logged, kept bounded.
MAX_LOGGED_PATHS = 256

_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
# Statuses that never carry a body (RFC 9110 sections 15.3.5 and 15.4.5): nothing to inject into.
_BODILESS_STATUSES = frozenset({204, 304})


class LiveReload:
    """Serves the live-reload endpoint and injects its script into HTML responses."""

    def __init__(self, app: ASGIApp, *, generation: str, allowed_hosts: tuple[str, ...] = ()) -> None:
        self.app = app
        self.generation = generation
        self._script = resources.files("asgidev").joinpath("templates", "live-reload.js").read_bytes()
        self.tag = b'<script src="%s" data-generation="%s"></script>' % (SCRIPT_PATH, generation.encode())
        # The endpoint answers loopback names and --allowed-host names only, whatever the bind.
        self._endpoint_guard = HostGuard(allowed_hosts, is_active=True)
        # Each open tab's message queue, and the scope of its WebSocket (its page is in the query string).
        self._clients: dict[asyncio.Queue[str], Scope] = {}
        # Messages a tab gets right after "hello", from each greeter (the overlay's tracebacks that came before the tab).
        self._greeters: list[Callable[[Scope], list[str]]] = []
        self._csp_logged: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind in ("http", "websocket") and scope["raw_path"].startswith(PREFIX):
            await self._serve_endpoint(scope, receive, send)
        elif kind == "http":
            await self.app(scope, receive, _Injector(self, scope, send).send)
        else:
            await self.app(scope, receive, send)

    def notify_reload(self) -> None:
        """Tell every open page to reload (the server changed what it renders without a restart)."""
        self._broadcast(json.dumps({"type": "reload"}))

    def notify_assets(self, paths: list[str]) -> None:
        """Tell every open page that these stylesheets changed."""
        self._broadcast(json.dumps({"type": "css", "paths": paths}))

    def send_to_tabs(self, message: str, page: str | None, may_receive: Callable[[Scope], bool]) -> bool:
        """Send ``message`` to the tabs showing ``page`` (path and query), or to every tab when none does.

        Only tabs whose connection passes ``may_receive`` get it (a traceback is not for every client).
        Returns whether a tab showing ``page`` got it.
        """
        tabs = [queue for queue, scope in self._clients.items() if may_receive(scope)]
        showing = [queue for queue in tabs if page is not None and tab_page(self._clients[queue]) == page]
        self._broadcast(message, showing or tabs)
        return bool(showing)

    def add_greeter(self, greeter: Callable[[Scope], list[str]]) -> None:
        """Have ``greeter`` name messages for each tab that connects, given its WebSocket's scope."""
        self._greeters.append(greeter)

    def _broadcast(self, message: str, queues: list[asyncio.Queue[str]] | None = None) -> None:
        for queue in self._clients if queues is None else queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    # -- the endpoint ------------------------------------------------------------

    async def _serve_endpoint(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = next((v for n, v in scope["headers"] if n == b"host"), None)
        allowed = self._endpoint_guard.is_allowed(host)
        if scope["type"] == "websocket":
            if allowed and scope["raw_path"] == SOCKET_PATH and self._is_own_page(scope, host):
                await self._serve_socket(scope, receive, send)
            else:
                await receive()
                await send({"type": "websocket.close", "code": 1008})  # before accept: a 403
            return
        if allowed and scope["raw_path"] == SCRIPT_PATH:
            body, status, kind = self._script, 200, b"text/javascript; charset=utf-8"
        else:
            body, status, kind = b"Not found.\n", 404, b"text/plain; charset=utf-8"
        headers = [(b"content-type", kind), (b"content-length", b"%d" % len(body)), (b"cache-control", b"no-store")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _is_own_page(self, scope: Scope, host: bytes | None) -> bool:
        """Whether the WebSocket was opened by a page of this server (or by no browser at all).

        Browsers send Origin with every WebSocket handshake and do not apply
        the same-origin policy to WebSockets, so any site could otherwise
        follow reloads, the worker PID and edited stylesheet paths. Allowed:
        no Origin (not a browser), the page's own host, loopback names and
        --allowed-host names. ``Origin: null`` (sandboxed frames, file: pages) is refused.
        """
        origin = next((v for n, v in scope["headers"] if n == b"origin"), None)
        if origin is None:
            return True
        authority = origin_authority(origin)
        if authority is None:
            return False
        return (host is not None and authority == host.lower()) or self._endpoint_guard.is_allowed(authority)

    async def _serve_socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps({"type": "hello", "generation": self.generation})})
        queue: asyncio.Queue[str] = asyncio.Queue(MAX_QUEUED_MESSAGES)
        for greeter in self._greeters:
            for message in greeter(scope)[:MAX_QUEUED_MESSAGES]:
                queue.put_nowait(message)
        self._clients[queue] = scope
        try:
            while True:
                incoming = asyncio.ensure_future(receive())
                outgoing = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({incoming, outgoing}, return_when=asyncio.FIRST_COMPLETED)
                if outgoing in done:
                    await send({"type": "websocket.send", "text": outgoing.result()})
                else:
                    outgoing.cancel()
                if incoming in done:
                    if incoming.result()["type"] == "websocket.disconnect":
                        return
                else:
                    incoming.cancel()
        finally:
            self._clients.pop(queue, None)

    def may_inject(self, scope: Scope, status: int, headers: list[tuple[bytes, bytes]]) -> bool:
        """Whether this response is HTML we may add the script to."""
        if status in _BODILESS_STATUSES or status < 200:
            return False
        is_html = False
        for raw_name, value in headers:
            name = bytes(raw_name).lower()  # apps (Django) may send "Content-Type"
            if name == b"content-type":
                is_html = value.split(b";")[0].strip().lower() == b"text/html"
            elif name == b"content-encoding" and value.strip().lower() not in (b"", b"identity"):
                return False
            elif name == b"content-security-policy" and not _csp_allows_self_script(value):
                path = scope["path"]
                if path not in self._csp_logged and len(self._csp_logged) < MAX_LOGGED_PATHS:
                    self._csp_logged.add(path)
                    logger.warning(
                        "Live reload: not injecting into %s: its Content-Security-Policy does not allow scripts from 'self'.", path
                    )
                return False
        return is_html

    def inject(self, body: bytes) -> bytes:
        matches = list(_BODY_END.finditer(body))
        if not matches:
            return body + self.tag
        at = matches[-1].start()
        return body[:at] + self.tag + body[at:]


class _Injector:
    """Wraps ``send`` for one HTTP response: holds the start until the first body tells whether to inject."""

    __slots__ = ("_held", "_live", "_scope", "_send")

    def __init__(self, live: LiveReload, scope: Scope, send: Send) -> None:
        self._live = live
        self._scope = scope
        self._send = send
        self._held: Message | None = None

    async def send(self, message: Message) -> None:
        held = self._held
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", ()))
            if self._live.may_inject(self._scope, message["status"], headers):
                self._held = message
                return
            await self._send(message)
            return
        if held is None or message["type"] != "http.response.body":
            await self._send(message)
            return
        self._held = None
        if message.get("more_body", False):
            # A streamed response: left untouched (documented).
            await self._send(held)
            await self._send(message)
            return
        body = bytes(message.get("body", b""))
        headers = list(held.get("headers", ()))
        declared = next((bytes(v) for n, v in headers if bytes(n).lower() == b"content-length"), None)
        if self._scope["method"] == "HEAD":
            # The server sends no body for HEAD, but its Content-Length must be the GET's
            # (RFC 9110 section 9.3.2): the page plus the tag, wherever it goes.
            if declared is not None and declared.strip().isdigit():
                length = int(declared) + len(self._live.tag)
            elif body:
                length = len(body) + len(self._live.tag)
            else:
                await self._send(held)
                await self._send(message)
                return
        else:
            body = self._live.inject(body)
            length = len(body)
        headers = [(n, v) for n, v in headers if bytes(n).lower() != b"content-length"]
        headers.append((b"content-length", b"%d" % length))
        await self._send({**held, "headers": headers})
        await self._send({**message, "body": body})


def _csp_allows_self_script(policy: bytes) -> bool:
    directives: dict[str, list[str]] = {}
    for part in policy.decode("latin-1").split(";"):
        tokens = part.split()
        if tokens:
            directives.setdefault(tokens[0].lower(), tokens[1:])
    for name in ("script-src-elem", "script-src", "default-src"):
        if name in directives:
            sources = [s.lower() for s in directives[name]]
            return "'self'" in sources or "*" in sources
    return True


def tab_page(scope: Scope) -> str | None:
    """The page (path and query) a tab's live-reload WebSocket said it shows (``?page=...``)."""
    pages = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("page")
    return pages[0] if pages else None


def wrap(app: ASGIApp, config: Config, generation: str) -> LiveReload:
    """The live-reload middleware around ``app`` for ``config``."""
    return LiveReload(app, generation=generation, allowed_hosts=config.allowed_hosts)
