"""The ASGI middleware that answers an exception escaping the app with its traceback.

Outermost around the app (and around the live-reload middleware). When the
app raises before anything reached the client, the client gets a 500 with the
traceback: an HTML page for a browser, ``application/problem+json`` for a
client asking for JSON, plain text otherwise. When the response was already
on its way, it cannot change: with ``--live-reload`` the open page gets the
traceback as an overlay instead, as it does when a page's own request (a
``fetch``) got the JSON or text form, which the developer never sees. The exception is re-raised either way, so the
server logs it in the terminal as before.

Frameworks' catch-all handlers (Starlette's and FastAPI's
``ServerErrorMiddleware``) send their own bare 500 and then re-raise; that
500 is held back for a moment, so the browser gets the traceback instead. A
500 that is an HTML page is the framework's own (Starlette's ``debug=True``
page) and goes out untouched.

Only clients that may see source and local variables get any of this (see
``Audience``); everyone else gets the server's plain 500.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import ipaddress
import logging
import os
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING

from asgidev._types import ASGIApp, Message, Receive, Scope, Send
from asgidev.asgi.disconnect import is_client_disconnect
from asgidev.config import Config
from asgidev.editors import link_template
from asgidev.host_guard import HostGuard, is_loopback_bind
from asgidev.tracebacks.handled import handled_exception, observe
from asgidev.tracebacks.negotiation import Wanted, wanted_format
from asgidev.tracebacks.render import Rendering, html_page, overlay_markup, plain_text, problem_json
from asgidev.tracebacks.report import build_report

if TYPE_CHECKING:
    from asgidev.livereload.middleware import LiveReload
    from asgidev.livereload.overlay import Overlays

logger = logging.getLogger(__name__)

# How long a complete 500 is held back waiting for the app to raise. Catch-all
# handlers raise right after sending; an app that sends a 500 and keeps working
# (a background task) gets it sent after this long, and an overlay if it raises later.
HOLD_500_S = 0.5
# The page runs no inline script and loads nothing but the live-reload script:
# even a value that escaped escaping could not execute.
PAGE_CSP = b"default-src 'none'; style-src 'unsafe-inline'; script-src 'self'; connect-src 'self'"


class Audience:
    """Who may see tracebacks: they carry source and local variables (secrets, tokens, personal data).

    By default, a client on loopback that names the server by a loopback host name
    (a tunnel or proxy on this machine arrives from loopback too, but with its
    public name), and only while the server is bound to loopback. ``--expose-tracebacks``: everyone.
    """

    def __init__(self, *, is_exposed: bool, is_loopback_bind: bool) -> None:
        self.is_exposed = is_exposed
        self.is_loopback_bind = is_loopback_bind
        self._loopback_names = HostGuard((), is_active=True)

    def may_see(self, scope: Scope) -> bool:
        if self.is_exposed:
            return True
        client = scope.get("client")
        if not self.is_loopback_bind or not client or not _is_loopback_address(client[0]):
            return False
        for name, value in scope["headers"]:
            if name == b"host":
                return self._loopback_names.is_allowed(value)
        return True  # HTTP/1.0 without Host: not a browser that a tunnel or rebinding could send


# Client addresses whose verdict is remembered: asked on every request, and parsing one costs
# more than the rest of the check; a client cycling through addresses only refills the cache.
MAX_CACHED_ADDRESSES = 256


@functools.lru_cache(maxsize=MAX_CACHED_ADDRESSES)
def _is_loopback_address(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).is_loopback
    except ValueError:
        return False


class Forwarding(enum.Enum):
    """What of the app's response has reached the client.

    NOTHING_SENT -> (a 500 starts) -> HOLDING -> (the app returns, or HOLD_500_S) -> FORWARDED
    NOTHING_SENT | HOLDING -> (anything else) -> FORWARDED
    """

    NOTHING_SENT = enum.auto()
    HOLDING = enum.auto()  # a 500's start, and maybe its whole body, wait for the app to raise
    FORWARDED = enum.auto()  # the response is on its way and can no longer change


# The states by name, read on every message (an Enum member lookup costs ~0.1 us).
_NOTHING_SENT, _HOLDING, _FORWARDED = Forwarding.NOTHING_SENT, Forwarding.HOLDING, Forwarding.FORWARDED


class _Response:
    """Wraps ``send`` for one request: forwards the app's messages, holding back a bare 500."""

    __slots__ = ("_flushing", "_send", "_timer", "held", "state", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.state = Forwarding.NOTHING_SENT
        self.status = 0
        self.held: list[Message] = []
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Future[None] | None = None  # the held 500 going out after HOLD_500_S

    async def send(self, message: Message) -> None:
        state = self.state
        if state is _FORWARDED:
            await self._send(message)  # the path of every message of every successful response
            return
        kind = message["type"]
        if kind == "http.response.start" and state is _NOTHING_SENT:
            self.status = message.get("status", 0)
            if self.status == 500:
                self.state = _HOLDING
                self.held.append(message)
                return
            self.state = _FORWARDED
        elif kind == "http.response.body" and state is _HOLDING and len(self.held) == 1 and not message.get("more_body"):
            self.held.append(message)
            self._timer = asyncio.get_running_loop().call_later(HOLD_500_S, self._flush_later)
            return
        else:
            await self.flush()
        await self._send(message)

    @property
    def is_settled(self) -> bool:
        """Everything the app sent has been passed on (nothing held, nothing still being sent)."""
        return self.state is _FORWARDED and self._flushing is None

    @property
    def is_held_html(self) -> bool:
        """The held 500 is an HTML page: a framework's own debug or error page."""
        headers = self.held[0].get("headers", ()) if self.held else ()
        return any(bytes(n).lower() == b"content-type" and bytes(v).lower().startswith(b"text/html") for n, v in headers)

    def _flush_later(self) -> None:
        self._timer = None
        self._flushing = asyncio.ensure_future(self._send_held())

    async def _send_held(self) -> None:
        held, self.held = self.held, []
        self.state = Forwarding.FORWARDED
        for message in held:
            await self._send(message)

    async def flush(self) -> None:
        """Send what is held, or wait until it has gone out; from now on the response is the app's."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        flushing, self._flushing = self._flushing, None
        if flushing is not None:
            await flushing
        await self._send_held()

    def discard(self) -> None:
        """Drop the held 500: a traceback replaces it, sent through ``send`` as it is."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.held = []
        self.state = Forwarding.FORWARDED


class TracebackPages:
    """Answers exceptions escaping ``app`` with their traceback, for the clients ``audience`` allows."""

    def __init__(self, app: ASGIApp, *, audience: Audience, editor: str | None, overlays: Overlays | None = None) -> None:
        self.app = app
        self.audience = audience
        self.editor = editor
        self.overlays = overlays

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.audience.may_see(scope):
            await self.app(scope, receive, send)
            return
        response = _Response(send)
        try:
            await self.app(scope, receive, response.send)
        except Exception as exc:
            if not is_client_disconnect(exc, is_client_gone=False):
                try:
                    await self._show(scope, response, exc)
                except Exception:
                    # A page that cannot be rendered must not hide the app's own exception: it is
                    # re-raised below, and the server answers with its plain 500 as without asgidev's page.
                    logger.exception("Could not show the traceback of %s %s in the browser", scope["method"], scope["path"])
            raise
        if response.state is _HOLDING and (handled := handled_exception(scope)) is not None:
            await self._show(scope, response, handled)  # Litestar's bare 500 (it logged the exception itself)
            return
        if not response.is_settled:
            await response.flush()
        if self.overlays is not None and 0 < response.status < 500:
            self.overlays.request_succeeded(scope)

    async def _show(self, scope: Scope, response: _Response, exc: Exception) -> None:
        if response.state is Forwarding.FORWARDED and not response.is_settled:
            with contextlib.suppress(OSError):
                await response.flush()  # the held 500 went out after HOLD_500_S; the app raised later
        if response.state is Forwarding.HOLDING and response.is_held_html:
            await response.flush()  # the framework's own page, untouched; it shows the error already
            return
        chain = build_report(exc)
        how = Rendering(request=_request_line(scope), editor=self.editor)
        if response.state is Forwarding.FORWARDED:
            if self.overlays is not None:
                self.overlays.show(scope, overlay_markup(chain, how))
            return
        response.discard()
        wanted = wanted_format(scope["headers"])
        if wanted is Wanted.HTML:
            page = html_page(chain, how).encode()
            body, kind = (self.overlays.inject_script(page) if self.overlays else page), b"text/html; charset=utf-8"
        elif wanted is Wanted.JSON:
            body, kind = problem_json(chain, how), b"application/problem+json"
        else:
            body, kind = plain_text(exc, how), b"text/plain; charset=utf-8"
        headers = [
            (b"content-type", kind),
            (b"content-length", b"%d" % len(body)),
            (b"cache-control", b"no-store"),
            (b"x-content-type-options", b"nosniff"),
            (b"content-security-policy", PAGE_CSP),
        ]
        # The client may have gone meanwhile; the server still logs the app's exception.
        with contextlib.suppress(OSError):
            await response.send({"type": "http.response.start", "status": 500, "headers": headers})
            await response.send({"type": "http.response.body", "body": body})
        if self.overlays is not None and wanted is not Wanted.HTML and _has_referer(scope):
            # A page's script made this request: the page, not the response, is where the developer looks.
            self.overlays.show(scope, overlay_markup(chain, how))


def _has_referer(scope: Scope) -> bool:
    return any(name == b"referer" for name, _ in scope["headers"])


def _request_line(scope: Scope) -> str:
    query = scope.get("query_string", b"")
    path = scope.get("path", "")
    return f"{scope.get('method', '')} {path}?{query.decode('latin-1')}" if query else f"{scope.get('method', '')} {path}"


def wrap(app: ASGIApp, config: Config, sockets: Sequence[socket.socket], live: LiveReload | None = None) -> TracebackPages:
    """The user's ``app`` (inside ``live``, the live-reload middleware, if given) answering its exceptions with tracebacks.

    Tracebacks go to the audience ``config`` and the bound ``sockets`` allow.
    """
    observe(app)
    audience = Audience(is_exposed=config.expose_tracebacks, is_loopback_bind=is_loopback_bind(sockets))
    overlays = None
    if live is not None:
        from asgidev.livereload.overlay import Overlays

        overlays = Overlays(live, audience.may_see)
    return TracebackPages(live or app, audience=audience, editor=link_template(config.editor, os.environ), overlays=overlays)
