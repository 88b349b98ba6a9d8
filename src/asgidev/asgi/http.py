"""The ASGI HTTP request/response cycle (ASGI spec, "HTTP" sub-specification).

One ``HTTPCycle`` per request. It offers the app ``receive`` and ``send``,
validates the order and shape of the app's messages, and hands bytes-level
work to an ``HTTPChannel`` implemented by the server. It knows neither
sockets nor h11, so the HTTP/1.1 server (and any later protocol) shares it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable
from typing import Any, Final, Protocol

from asgidev._types import ASGIApp, Headers, Message, Scope

logger = logging.getLogger(__name__)

# How many request body bytes may wait for the app before the server stops
# reading from the client. One socket read is usually 64 KiB, so this keeps
# uploads streaming while bounding memory per connection.
MAX_BUFFERED_BODY_BYTES = 64 * 1024

_DISCONNECT: Message = {"type": "http.disconnect"}


class ClientDisconnectedError(OSError):
    """``send()`` was called after the client went away (ASGI spec 2.4: an OSError subclass)."""


class ResponseState(enum.Enum):
    """Where the app is in sending its response. The only response state there is.

    AWAITING_START -> (http.response.start) -> AWAITING_BODY
    AWAITING_BODY  -> (http.response.body, more_body) -> STREAMING
    AWAITING_BODY | STREAMING -> (final http.response.body) -> COMPLETE
    """

    AWAITING_START = enum.auto()
    AWAITING_BODY = enum.auto()
    STREAMING = enum.auto()
    COMPLETE = enum.auto()


class RequestState(enum.Enum):
    """What the client side of the exchange has done.

    RECEIVING: more body may arrive. ENDED: the whole body arrived (it may still
    be buffered). DELIVERED: the app has seen the last body chunk.
    DISCONNECTED: the client went away.
    """

    RECEIVING = enum.auto()
    ENDED = enum.auto()
    DELIVERED = enum.auto()
    DISCONNECTED = enum.auto()


# The members the per-request path compares against, bound once as module globals: on
# Python 3.11 reading an enum member through its class goes through EnumType.__getattr__
# (about 900 instructions under callgrind, against 20 for a global).
_AWAITING_START: Final = ResponseState.AWAITING_START
_AWAITING_BODY: Final = ResponseState.AWAITING_BODY
_STREAMING: Final = ResponseState.STREAMING
_COMPLETE: Final = ResponseState.COMPLETE
_RECEIVING: Final = RequestState.RECEIVING
_ENDED: Final = RequestState.ENDED
_DELIVERED: Final = RequestState.DELIVERED
_DISCONNECTED: Final = RequestState.DISCONNECTED


class HTTPChannel(Protocol):
    """What the cycle needs from the connection carrying it."""

    def request_body(self, cycle: HTTPCycle) -> None:
        """The app waits for body: send ``100 Continue`` if owed, resume reading."""

    def write_response(self, cycle: HTTPCycle, head: tuple[int, Headers] | None, body: bytes, *, end: bool) -> None:
        """Write the head (once, if given), a body chunk and possibly the end."""

    def wait_writable(self) -> Awaitable[None] | None:
        """An awaitable while the client is not reading, else None (the fast path)."""

    def app_finished(self, cycle: HTTPCycle, exc: BaseException | None) -> None:
        """The app returned or raised; the channel answers or closes as needed."""


class HTTPCycle:
    """One request as the app sees it."""

    __slots__ = (
        "_buffered",
        "_chunks",
        "_head",
        "_waiter",
        "app_called_at",
        "body_bytes",
        "channel",
        "received_at",
        "received_bytes",
        "request_state",
        "response_state",
        "scope",
        "started_at",
        "status",
    )

    def __init__(self, scope: Scope, channel: HTTPChannel, *, request_ended: bool) -> None:
        self.scope = scope
        self.channel = channel
        self.response_state = _AWAITING_START
        self.request_state = _ENDED if request_ended else _RECEIVING
        self.status = 0
        self.body_bytes = 0
        self.received_bytes = 0  # request body bytes so far, for --limit-request-body
        self.started_at = time.perf_counter()
        # For Server-Timing only (0.0 otherwise): when the request's bytes arrived, set by the
        # connection, and when the app was called.
        self.received_at = 0.0
        self.app_called_at = 0.0
        self._chunks: list[bytes] = []
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None
        self._head: tuple[int, Headers] | None = None

    # -- fed by the connection ------------------------------------------------

    def feed_body(self, data: bytes) -> bool:
        """Queue request body; returns False when the buffer is full (stop reading)."""
        if data:
            self._chunks.append(data)
            self._buffered += len(data)
        self._wake()
        return self._buffered < MAX_BUFFERED_BODY_BYTES

    def feed_end(self) -> None:
        """The client sent the whole request body."""
        if self.request_state is _RECEIVING:
            self.request_state = _ENDED
        self._wake()

    def feed_disconnect(self) -> None:
        """The client closed the connection."""
        self.request_state = _DISCONNECTED
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the app's side ---------------------------------------------------------

    async def run(self, app: ASGIApp) -> None:
        """Run the app for this request and report how it ended to the channel."""
        if self.received_at:
            self.app_called_at = time.perf_counter()
        try:
            await app(self.scope, self.receive, self.send)
        except BaseException as exc:
            self.channel.app_finished(self, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            self.channel.app_finished(self, None)

    async def receive(self) -> Message:
        while True:
            state = self.request_state
            if self._chunks:
                body = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
                self._chunks = []
                self._buffered = 0
                more = state is _RECEIVING
                if more:
                    self.channel.request_body(self)  # the buffer is empty again: read on
                elif state is _ENDED:
                    self.request_state = _DELIVERED
                return {"type": "http.request", "body": body, "more_body": more}
            if state is _ENDED:
                self.request_state = _DELIVERED
                return {"type": "http.request", "body": b"", "more_body": False}
            if state is _DISCONNECTED or self.response_state is _COMPLETE:
                return _DISCONNECT
            if state is _RECEIVING:
                self.channel.request_body(self)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def send(self, message: Message) -> None:
        if self.request_state is _DISCONNECTED:
            raise ClientDisconnectedError("The client disconnected; the response cannot be sent.")
        kind = message["type"]
        state = self.response_state
        if kind == "http.response.start":
            if state is not _AWAITING_START:
                raise RuntimeError("ASGI app sent 'http.response.start' twice; a response has only one start.")
            self._head = (_status(message), _headers(message))
            self.status = self._head[0]
            self.response_state = _AWAITING_BODY
            return
        if kind != "http.response.body":
            if state is _AWAITING_START:
                raise RuntimeError(f"ASGI app sent {kind!r}; expected 'http.response.start' first.")
            raise RuntimeError(f"ASGI app sent {kind!r}; expected 'http.response.body'.")
        if state is _AWAITING_START:
            raise RuntimeError("ASGI app sent 'http.response.body' before 'http.response.start'.")
        if state is _COMPLETE:
            raise RuntimeError("ASGI app sent 'http.response.body' after the response was complete.")
        body = message.get("body", b"")
        if type(body) is not bytes:
            if not isinstance(body, (bytes, bytearray, memoryview)):
                raise TypeError(f"'body' must be bytes, not {type(body).__name__}.")
            body = bytes(body)
        more = bool(message.get("more_body", False))
        head, self._head = self._head, None
        self.body_bytes += len(body)
        self.response_state = _STREAMING if more else _COMPLETE
        self.channel.write_response(self, head, body, end=not more)
        if more:
            waiting = self.channel.wait_writable()
            if waiting is not None:
                await waiting
                if self.is_disconnected:
                    raise ClientDisconnectedError("The client disconnected while the response was streaming.")

    @property
    def is_disconnected(self) -> bool:
        """The client went away."""
        return self.request_state is _DISCONNECTED

    def take_unsent_head(self) -> tuple[int, Headers] | None:
        """The start message the app sent but no body followed (to be replaced by a 500)."""
        head, self._head = self._head, None
        return head


def _status(message: Message) -> int:
    status = message.get("status")
    if type(status) is not int or not 200 <= status <= 999:
        # 1xx responses are interim (RFC 9110 section 15.2): the server sends 100 Continue itself.
        raise TypeError(f"'status' in 'http.response.start' must be a final status, an int between 200 and 999, not {status!r}.")
    return status


def _headers(message: Message) -> Headers:
    raw: Any = message.get("headers", ())
    try:
        headers = [(bytes(name).lower(), bytes(value)) for name, value in raw]
    except (TypeError, ValueError):
        raise TypeError("'headers' in 'http.response.start' must be an iterable of [bytes, bytes] pairs.") from None
    return headers
