"""WebSocket (RFC 6455) on wsproto, with asgidev's limits. Sans-IO: bytes in, events out.

The opening handshake is checked from the request head the HTTP/1.1 protocol already parsed: wsproto's
``H11Handshake`` would serialise that request again only to parse it a second
time, so this module validates the handshake headers itself (RFC 6455 section
4.2.1), writes the ``101`` response, and uses wsproto for what it is good at:
the frame layer (``wsproto.connection.Connection``) and per-message deflate.

Feed bytes with ``receive_data``; pull whole messages, pongs and the end of
the connection with ``next_event``; turn messages, pings and closes into bytes
with ``send_message``, ``ping`` and ``close``. Replies owed to the peer (pongs,
the echo of its close frame, the close frame that fails a connection) collect
in ``data_to_send``.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage
from wsproto.extensions import Extension
from wsproto.utilities import LocalProtocolError, generate_accept_token

from asgidev.protocols.deflate import negotiate_deflate
from asgidev.protocols.headers import header_problem

Headers = list[tuple[bytes, bytes]]

# With per-message deflate a few compressed bytes can inflate a thousandfold
# (deflate's limit is about 1032:1), and wsproto inflates whatever it is given
# in one go. So compressed input is handed over in steps that inflate to at
# most about one --ws-max-size message before the size check runs: a message
# the server would accept anyway. At least this many bytes per step, since each
# step costs a pass through wsproto's frame parser (at the default 16 MiB limit
# a step is 16 KiB: 4 KiB steps made that parser the larger part of the inflating cost).
DEFLATE_FEED_BYTES: Final = 4 * 1024
DEFLATE_MAX_RATIO: Final = 1032
# Close codes an endpoint may put in a close frame (RFC 6455 section 7.4):
# 1004-1006 and 1015 are reserved for reporting, never sent.
_SENDABLE_CLOSE_CODES: Final = frozenset(range(1000, 5000)) - {1004, 1005, 1006, 1015}
MESSAGE_TOO_BIG: Final = 1009


class HandshakeError(Exception):
    """The upgrade request is not a valid WebSocket handshake; answer ``status_code``."""

    def __init__(self, status_code: int, message: str, headers: Headers | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.headers = headers or []


class InvalidAcceptError(ValueError):
    """The app's ``websocket.accept`` cannot be turned into a valid ``101`` response."""


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the client asked for in its opening handshake."""

    key: bytes
    subprotocols: list[str]
    extensions: list[str]


@dataclass(frozen=True, slots=True)
class Message:
    """A whole text (``str``) or binary (``bytes``) message, fragments joined."""

    data: str | bytes


@dataclass(frozen=True, slots=True)
class Closed:
    """The connection is over: the peer closed it (``code`` is theirs) or, ``by_peer`` False, we failed it."""

    code: int
    reason: str
    by_peer: bool = True


class _Marker(enum.Enum):
    NEED_DATA = enum.auto()
    PONG = enum.auto()


# More bytes are needed before another event.
NEED_DATA: Final = _Marker.NEED_DATA
# The peer answered a ping.
PONG: Final = _Marker.PONG
WebSocketEvent = Message | Closed | _Marker


class State(enum.Enum):
    """Where the connection is. The only state there is (wsproto's own follows it).

    CONNECTING -> (accept) -> OPEN;  CONNECTING -> (reject) -> REJECTED (HTTP answers instead)
    OPEN -> (close: we start the closing handshake) -> CLOSING
    OPEN | CLOSING -> (the peer's close frame, or a protocol error we fail on) -> CLOSED
    """

    CONNECTING = enum.auto()
    OPEN = enum.auto()
    CLOSING = enum.auto()
    CLOSED = enum.auto()
    REJECTED = enum.auto()


def _tokens(headers: Headers, name: bytes) -> list[str]:
    """The comma-separated values of every ``name`` header, stripped (RFC 9110 section 5.6.1)."""
    found: list[str] = []
    for header, value in headers:
        if header == name:
            found.extend(t for t in (piece.strip() for piece in value.decode("latin-1").split(",")) if t)
    return found


def is_websocket_upgrade(headers: Headers) -> bool:
    """Whether the request asks to switch to WebSocket (``Upgrade: websocket`` + ``Connection: upgrade``)."""
    return any(t.lower() == "websocket" for t in _tokens(headers, b"upgrade")) and any(
        t.lower() == "upgrade" for t in _tokens(headers, b"connection")
    )


def parse_handshake(method: bytes, http_version: bytes, headers: Headers) -> Handshake:
    """Check an upgrade request against RFC 6455 section 4.2.1.

    Raises:
        HandshakeError: a required part is missing or wrong (400, or 426 for the version).
    """
    if method != b"GET":
        raise HandshakeError(400, "A WebSocket handshake must be a GET request.")
    if http_version != b"1.1":
        raise HandshakeError(400, "A WebSocket handshake needs HTTP/1.1.")
    versions = _tokens(headers, b"sec-websocket-version")
    if versions != ["13"]:
        raise HandshakeError(426, "Unsupported Sec-WebSocket-Version; this server speaks 13.", [(b"sec-websocket-version", b"13")])
    keys = [value.strip() for name, value in headers if name == b"sec-websocket-key"]
    if len(keys) != 1 or not _is_valid_key(keys[0]):
        raise HandshakeError(400, "Missing or invalid Sec-WebSocket-Key.")
    return Handshake(
        key=keys[0],
        subprotocols=_tokens(headers, b"sec-websocket-protocol"),
        extensions=_tokens(headers, b"sec-websocket-extensions"),
    )


def _is_valid_key(key: bytes) -> bool:
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except ValueError:
        return False


class WebSocketProtocol:
    """One server-side WebSocket connection, from the app's decision on the handshake to the close."""

    __slots__ = (
        "_conn",
        "_events",
        "_feed_step",
        "_handshake",
        "_message_size",
        "_offset",
        "_outgoing",
        "_parts",
        "_unparsed",
        "is_deflate",
        "max_message_bytes",
        "state",
    )

    def __init__(self, handshake: Handshake, *, max_message_bytes: int) -> None:
        self._handshake = handshake
        self.max_message_bytes = max_message_bytes
        self.state = State.CONNECTING
        self.is_deflate = False
        self._conn: Connection | None = None
        self._events: Iterator[Event] | None = None
        # Bytes received but not yet handed to wsproto: before the accept, or
        # while the server holds back because the app is not receiving.
        self._unparsed = b""
        self._offset = 0
        self._feed_step = 0
        self._parts: list[str | bytes] = []
        self._message_size = 0
        self._outgoing = bytearray()

    # -- the handshake ------------------------------------------------------------

    def accept(self, subprotocol: str | None, headers: Headers, *, allow_deflate: bool) -> bytes:
        """The ``101 Switching Protocols`` response; frames flow from now on.

        Raises:
            InvalidAcceptError: a subprotocol the client did not offer, or an invalid header.
        """
        if self.state is not State.CONNECTING:
            raise InvalidAcceptError("the handshake was already answered")
        if subprotocol is not None and subprotocol not in self._handshake.subprotocols:
            raise InvalidAcceptError(f"subprotocol {subprotocol!r} was not offered by the client (RFC 6455 section 4.2.2)")
        lines = [b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"]
        lines.append(b"sec-websocket-accept: %s\r\n" % generate_accept_token(self._handshake.key))
        if subprotocol is not None:
            lines.append(b"sec-websocket-protocol: %s\r\n" % subprotocol.encode("latin-1"))
        extensions: list[Extension] = []
        deflate = negotiate_deflate(self._handshake.extensions) if allow_deflate else None
        if deflate is not None:
            extensions.append(deflate[0])
            lines.append(b"sec-websocket-extensions: %s\r\n" % deflate[1])
            self.is_deflate = True
        # The same rule as every HTTP response (protocols/headers.py): CR, LF and other controls are refused.
        problem = header_problem(headers)
        if problem is not None:
            raise InvalidAcceptError(problem)
        lines.extend(b"%s: %s\r\n" % pair for pair in headers)
        lines.append(b"\r\n")
        self._conn = Connection(ConnectionType.SERVER, extensions)
        self._feed_step = max(DEFLATE_FEED_BYTES, self.max_message_bytes // DEFLATE_MAX_RATIO) if self.is_deflate else 0
        self.state = State.OPEN
        return b"".join(lines)

    def reject(self) -> None:
        """The handshake is answered with an HTTP response instead (the server writes it)."""
        if self.state is State.CONNECTING:
            self.state = State.REJECTED

    # -- reading ------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client (parsed lazily, as ``next_event`` is called)."""
        if self.state in (State.CLOSED, State.REJECTED) or not data:
            return
        if self._offset:
            self._unparsed = self._unparsed[self._offset :]
            self._offset = 0
        self._unparsed = self._unparsed + data if self._unparsed else data

    @property
    def unparsed_bytes(self) -> int:
        """Bytes received and not yet parsed; the server stops reading past its limit."""
        return len(self._unparsed) - self._offset

    def next_event(self) -> WebSocketEvent:
        """The next whole message, ``PONG``, ``Closed`` or ``NEED_DATA``."""
        conn = self._conn
        while conn is not None and self.state in (State.OPEN, State.CLOSING):
            if self._events is None:
                if not self.unparsed_bytes:
                    break
                end = self._offset + self._feed_step if self._feed_step else len(self._unparsed)
                conn.receive_data(self._unparsed[self._offset : end])
                self._offset = min(end, len(self._unparsed))
                if self._offset == len(self._unparsed):
                    self._unparsed, self._offset = b"", 0
                self._events = conn.events()
            event = next(self._events, None)
            if event is None:
                self._events = None
                continue
            result = self._handle(conn, event)
            if result is not None:
                return result
        return NEED_DATA

    def _handle(self, conn: Connection, event: Event) -> WebSocketEvent | None:
        kind = type(event)
        if kind is TextMessage or kind is BytesMessage:
            if self.state is State.CLOSING:
                return None  # we are closing: the app said it wants no more messages
            return self._add_part(event)  # type: ignore[arg-type]
        if kind is Ping:
            if conn.state is ConnectionState.OPEN:
                self._outgoing += conn.send(event.response())  # type: ignore[attr-defined]
            return None
        if kind is Pong:
            return PONG
        if kind is CloseConnection:
            code, reason = event.code, event.reason or ""  # type: ignore[attr-defined]
            if conn.state is ConnectionState.REMOTE_CLOSING:
                # The peer closes: echo its close frame (RFC 6455 section 5.5.1).
                self._outgoing += conn.send(event.response())  # type: ignore[attr-defined]
                self._set_closed()
                return Closed(int(code), reason)
            if conn.state is ConnectionState.CLOSED:
                self._set_closed()  # the echo of our own close frame
                return Closed(int(code), reason)
            # wsproto reports a protocol error as a close frame it did not
            # receive: fail the connection with that code (RFC 6455 section 7.1.7).
            return self.fail(int(code), reason)
        return None

    def _add_part(self, event: TextMessage | BytesMessage) -> WebSocketEvent | None:
        data = event.data
        if isinstance(data, bytearray):  # typed as possible; wsproto hands out bytes
            data = bytes(data)
        # Text counts in UTF-8 bytes, as the limit is documented; ASCII needs no encoding to count.
        size = len(data) if type(data) is not str or data.isascii() else len(data.encode("utf-8"))
        self._message_size += size
        if self._message_size > self.max_message_bytes:
            return self.fail(MESSAGE_TOO_BIG, f"Message larger than {self.max_message_bytes} bytes.")
        if not event.message_finished:
            if data:
                self._parts.append(data)
            return None
        parts = self._parts
        if parts:
            parts.append(data)
            whole: str | bytes = "".join(parts) if type(data) is str else b"".join(parts)  # type: ignore[arg-type]
            self._parts = []
        else:
            whole = data
        self._message_size = 0
        return Message(whole)

    def fail(self, code: int, reason: str) -> Closed:
        """Fail the connection (RFC 6455 section 7.1.7): a close frame is queued, nothing more is read."""
        conn = self._conn
        if conn is not None and conn.state is ConnectionState.OPEN:
            self._outgoing += conn.send(CloseConnection(code=code, reason=reason))
        self._set_closed()
        return Closed(code, reason, by_peer=False)

    def _set_closed(self) -> None:
        self.state = State.CLOSED
        self._unparsed, self._offset, self._events = b"", 0, None
        self._parts = []

    # -- writing ------------------------------------------------------------------

    def data_to_send(self) -> bytes:
        """Replies the protocol owes the peer (pongs, close frames); empties the buffer."""
        data = bytes(self._outgoing)
        self._outgoing.clear()
        return data

    def send_message(self, data: str | bytes) -> bytes:
        """Frame a whole text or binary message; ``b""`` once the connection is closing."""
        if self.state is not State.OPEN or self._conn is None:
            return b""
        kind = TextMessage if type(data) is str else BytesMessage
        return bytes(self._conn.send(kind(data=data)))  # type: ignore[arg-type]

    def ping(self, payload: bytes) -> bytes:
        """A ping frame (RFC 6455 section 5.5.2), while the connection is open."""
        if self.state is not State.OPEN or self._conn is None:
            return b""
        return bytes(self._conn.send(Ping(payload=payload)))

    def close(self, code: int, reason: str = "") -> bytes:
        """Start the closing handshake; the peer's echo ends it (``Closed`` from ``next_event``).

        Raises:
            ValueError: ``code`` may not be sent in a close frame.
        """
        if code not in _SENDABLE_CLOSE_CODES:
            raise ValueError(f"close code {code} cannot be sent (use 1000-4999, not 1004-1006 or 1015)")
        if self.state is not State.OPEN or self._conn is None:
            return b""
        try:
            data = self._conn.send(CloseConnection(code=code, reason=reason or None))
        except LocalProtocolError:
            return b""
        self.state = State.CLOSING
        return bytes(data)
