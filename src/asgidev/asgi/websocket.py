"""The ASGI WebSocket cycle (ASGI spec, "WebSocket" sub-specification, with the denial-response extension).

One ``WebSocketCycle`` per connection. It offers the app ``receive`` and
``send``, validates the order and shape of the app's messages, queues the
client's messages until the app asks for them, and hands the wire work to a
``WebSocketChannel`` implemented by the server. It knows neither sockets nor
wsproto.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import time
from collections.abc import Awaitable
from typing import Any, Final, Protocol

from asgidev._types import ASGIApp, Headers, Message, Scope
from asgidev.asgi.http import ClientDisconnectedError

# Client messages waiting for the app before the server stops reading: a
# count, since tiny messages cost far more than their bytes, and bytes (str
# length for text), so a few large ones cannot pile up either. The peer then
# waits in TCP flow control rather than in our memory.
MAX_QUEUED_MESSAGES: Final = 64
MAX_QUEUED_BYTES: Final = 1024 * 1024
# Close code when the peer vanished without a close frame (RFC 6455 section 7.1.5).
ABNORMAL_CLOSURE: Final = 1006


class AppState(enum.Enum):
    """What the app has sent. The only send-side state there is.

    CONNECTING -> (websocket.accept) -> ACCEPTED -> (websocket.close) -> CLOSED
    CONNECTING -> (websocket.close: HTTP 403) -> CLOSED
    CONNECTING -> (websocket.http.response.start) -> DENYING -> (last websocket.http.response.body) -> CLOSED
    """

    CONNECTING = enum.auto()
    ACCEPTED = enum.auto()
    DENYING = enum.auto()
    CLOSED = enum.auto()


class PeerState(enum.Enum):
    """What the app has been told about the client.

    HANDSHAKE: ``websocket.connect`` not yet received. OPEN: it was; messages
    flow. GONE: the connection ended; queued messages are still delivered,
    then ``websocket.disconnect`` with ``disconnect_code``.
    """

    HANDSHAKE = enum.auto()
    OPEN = enum.auto()
    GONE = enum.auto()


class WebSocketChannel(Protocol):
    """What the cycle needs from the connection carrying it."""

    def accept(self, cycle: WebSocketCycle, subprotocol: str | None, headers: Headers) -> None:
        """Answer the handshake with 101 and start exchanging frames."""

    def send_message(self, cycle: WebSocketCycle, data: str | bytes) -> None:
        """Send one whole text or binary message."""

    def close(self, cycle: WebSocketCycle, code: int, reason: str) -> None:
        """Start the closing handshake."""

    def deny(self, cycle: WebSocketCycle, head: tuple[int, Headers] | None, body: bytes, *, end: bool) -> None:
        """Answer the handshake with an HTTP response: head (once, if given), body, maybe the end."""

    def resume_receiving(self, cycle: WebSocketCycle) -> None:
        """The queue has room again: parse and read more."""

    def wait_writable(self) -> Awaitable[None] | None:
        """An awaitable while the client is not reading, else None."""

    def app_finished(self, cycle: WebSocketCycle, exc: BaseException | None) -> None:
        """The app returned or raised; the channel answers or closes as needed."""


class WebSocketCycle:
    """One WebSocket connection as the app sees it."""

    __slots__ = (
        "_head",
        "_queue",
        "_queued_bytes",
        "_waiter",
        "app_state",
        "channel",
        "disconnect_code",
        "disconnect_reason",
        "is_full",
        "peer_state",
        "scope",
        "started_at",
        "status",
    )

    def __init__(self, scope: Scope, channel: WebSocketChannel) -> None:
        self.scope = scope
        self.channel = channel
        self.app_state = AppState.CONNECTING
        self.peer_state = PeerState.HANDSHAKE
        self.disconnect_code = ABNORMAL_CLOSURE
        self.disconnect_reason = ""
        # The HTTP status the handshake was answered with (101, or a denial's), for the access log.
        self.status = 0
        self.started_at = time.perf_counter()
        self._queue: collections.deque[str | bytes] = collections.deque()
        self._queued_bytes = 0
        # The queue is at its limit: the channel reads no more until the app takes a message.
        self.is_full = False
        self._waiter: asyncio.Future[None] | None = None
        self._head: tuple[int, Headers] | None = None

    # -- fed by the connection ------------------------------------------------

    def feed_message(self, data: str | bytes) -> bool:
        """Queue a client message; returns False when the queue is full (stop reading)."""
        self._queue.append(data)
        self._queued_bytes += len(data)
        self._wake()
        self.is_full = len(self._queue) >= MAX_QUEUED_MESSAGES or self._queued_bytes >= MAX_QUEUED_BYTES
        return not self.is_full

    def feed_disconnect(self, code: int, reason: str = "") -> None:
        """The connection ended; the first code reported is the one the app sees."""
        if self.peer_state is not PeerState.GONE:
            self.peer_state = PeerState.GONE
            self.disconnect_code = code
            self.disconnect_reason = reason
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    @property
    def is_gone(self) -> bool:
        """The connection ended."""
        return self.peer_state is PeerState.GONE

    # -- the app's side ---------------------------------------------------------

    async def run(self, app: ASGIApp) -> None:
        """Run the app for this connection and report how it ended to the channel."""
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
            if self.peer_state is PeerState.HANDSHAKE:
                self.peer_state = PeerState.OPEN
                return {"type": "websocket.connect"}
            if self._queue:
                data = self._queue.popleft()
                self._queued_bytes -= len(data)
                if self.is_full:
                    self.is_full = False
                    self.channel.resume_receiving(self)
                # Only the key that carries the message: some apps test with ``"text" in message``.
                if type(data) is str:
                    return {"type": "websocket.receive", "text": data}
                return {"type": "websocket.receive", "bytes": data}
            if self.peer_state is PeerState.GONE:
                return {"type": "websocket.disconnect", "code": self.disconnect_code, "reason": self.disconnect_reason}
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.send":
            await self._send_data(message)
        elif kind == "websocket.accept":
            self._expect(kind, AppState.CONNECTING)
            subprotocol = message.get("subprotocol")
            if subprotocol is not None and not isinstance(subprotocol, str):
                raise TypeError(f"'subprotocol' in 'websocket.accept' must be a str or None, not {type(subprotocol).__name__}.")
            headers = _headers(message, kind)
            self.app_state = AppState.ACCEPTED
            self.status = 101
            self.channel.accept(self, subprotocol, headers)
        elif kind == "websocket.close":
            self._close(message)
        elif kind == "websocket.http.response.start":
            self._expect(kind, AppState.CONNECTING)
            self._head = (_status(message), _headers(message, kind))
            self.status = self._head[0]
            self.app_state = AppState.DENYING
        elif kind == "websocket.http.response.body":
            self._expect(kind, AppState.DENYING)
            body = _bytes(message.get("body", b""), "'body' in 'websocket.http.response.body'")
            more = bool(message.get("more_body", False))
            head, self._head = self._head, None
            if not more:
                self.app_state = AppState.CLOSED
            self.channel.deny(self, head, body, end=not more)
        else:
            raise RuntimeError(f"ASGI app sent {kind!r} on a WebSocket connection; see the ASGI WebSocket spec for valid messages.")

    async def _send_data(self, message: Message) -> None:
        if self.app_state is AppState.CLOSED:
            raise ClientDisconnectedError("The WebSocket is closed; the message cannot be sent.")
        self._expect("websocket.send", AppState.ACCEPTED)
        text, data = message.get("text"), message.get("bytes")
        if (text is None) == (data is None):
            raise TypeError("'websocket.send' needs exactly one of 'bytes' and 'text' set (not None).")
        if text is not None and not isinstance(text, str):
            raise TypeError(f"'text' in 'websocket.send' must be a str, not {type(text).__name__}.")
        payload: str | bytes = text if text is not None else _bytes(data, "'bytes' in 'websocket.send'")
        self.channel.send_message(self, payload)
        waiting = self.channel.wait_writable()
        if waiting is not None:
            await waiting
            if self.is_gone:
                raise ClientDisconnectedError("The client disconnected while the message was being sent.")

    def _close(self, message: Message) -> None:
        state = self.app_state
        code = message.get("code", 1000)
        if type(code) is not int:
            raise TypeError(f"'code' in 'websocket.close' must be an int, not {type(code).__name__}.")
        reason = message.get("reason") or ""
        if not isinstance(reason, str):
            raise TypeError(f"'reason' in 'websocket.close' must be a str, not {type(reason).__name__}.")
        if state is AppState.CLOSED:
            return  # closing twice (say, after the client left) is harmless
        if state is AppState.DENYING:
            raise RuntimeError("ASGI app sent 'websocket.close' during its denial response; finish it with 'websocket.http.response.body'.")
        self.app_state = AppState.CLOSED
        if state is AppState.CONNECTING:
            # ASGI spec: a close before accept rejects the handshake with 403.
            self.status = 403
            self.channel.deny(self, (403, []), b"", end=True)
        elif not self.is_gone:
            self.channel.close(self, code, reason)

    def _expect(self, kind: str, state: AppState) -> None:
        if self.is_gone and self.app_state is not AppState.CLOSED:
            raise ClientDisconnectedError(f"The client disconnected; {kind!r} cannot be sent.")
        if self.app_state is not state:
            raise RuntimeError(f"ASGI app sent {kind!r} {_WHEN[self.app_state]}.")

    def take_unsent_head(self) -> tuple[int, Headers] | None:
        """The denial start the app sent with no body after it (to be replaced by a 500)."""
        head, self._head = self._head, None
        return head


_WHEN = {
    AppState.CONNECTING: "before 'websocket.accept'",
    AppState.ACCEPTED: "after 'websocket.accept'",
    AppState.DENYING: "during a denial response",
    AppState.CLOSED: "after the connection was closed",
}


def _bytes(value: Any, what: str) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"{what} must be bytes, not {type(value).__name__}.")


def _status(message: Message) -> int:
    status = message.get("status")
    if type(status) is not int or not 100 <= status <= 999 or status == 101:
        raise TypeError(f"'status' in 'websocket.http.response.start' must be an int between 100 and 999 (not 101), not {status!r}.")
    return status


def _headers(message: Message, kind: str) -> Headers:
    raw: Any = message.get("headers", ())
    try:
        return [(bytes(name).lower(), bytes(value)) for name, value in raw]
    except (TypeError, ValueError):
        raise TypeError(f"'headers' in {kind!r} must be an iterable of [bytes, bytes] pairs.") from None
