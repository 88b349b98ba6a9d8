"""HTTP/1.1 on h11, with asgidev's limits, error statuses and a fast response writer.

Sans-IO: feed bytes with ``receive_data``, pull asgidev's events
(``protocols/events.py``) with ``next_event``, and turn responses into bytes
with ``response_head``, ``body`` and ``end``. This is the only module that
knows h11: nothing above it sees an h11 object.

h11 parses and validates every request head and Content-Length body;
chunked bodies are decoded by ``protocols/chunked.py``, which is stricter
than h11 (see there why). Responses are framed here rather
than by ``h11.Connection.send``: profiling showed h11's send path (event
objects, header re-validation, state bookkeeping) costing more than half of
the per-request work for small responses. So each request gets a fresh
``h11.Connection`` (about 1 µs) that only ever reads, and the next request
starts from its ``trailing_data``. The framing rules implemented below are
RFC 9112 section 6 (message body length) and 9.3 (persistence).
"""

from __future__ import annotations

import http
from typing import Final

import h11

from asgidev.protocols import exchange_state as state
from asgidev.protocols.chunked import ChunkedBody, ChunkedFramingError, Progress
from asgidev.protocols.events import (
    CONNECTION_CLOSED,
    NEED_DATA,
    PAUSED,
    REQUEST_END,
    ConnectionClosed,
    Event,
    RequestBody,
    RequestEnd,
    RequestHead,
)
from asgidev.protocols.headers import DefaultHeaders, header_problem
from asgidev.protocols.http_errors import HTTPProtocolError, InvalidResponseError, classify
from asgidev.protocols.request_head import MAX_HEAD_BYTES, MAX_REQUEST_LINE_BYTES, read_head

__all__ = [
    "NEED_DATA",
    "PAUSED",
    "ConnectionClosed",
    "Event",
    "HTTP11Protocol",
    "HTTPProtocolError",
    "InvalidResponseError",
    "RequestBody",
    "RequestEnd",
    "RequestHead",
]

# Empty-line bytes (CR, LF) skipped before a request line: two stray CRLFs and then some.
MAX_SKIPPED_EMPTY_LINE_BYTES: Final = 8

# Status lines computed once (with reason phrases; h11 would send none).
_STATUS_LINES: Final = {s.value: b"HTTP/1.1 %d %s\r\n" % (s.value, s.phrase.encode()) for s in http.HTTPStatus}
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_REQUEST_DONE_STATES: Final = frozenset({h11.DONE, h11.MIGHT_SWITCH_PROTOCOL})  # type: ignore[attr-defined]  # not in h11's __all__


class HTTP11Protocol:
    """One server-side HTTP/1.1 connection: h11 reads requests, we frame responses."""

    __slots__ = (
        "_body_end",
        "_chunked",
        "_conn",
        "_framing",
        "_has_sent_continue",
        "_head_start",
        "_is_keep_alive",
        "_method",
        "_remaining",
        "_skipped_empty_bytes",
        "_version",
        "sends_body",
    )

    def __init__(self) -> None:
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        # The first bytes of the current request head, kept only to tell an
        # overlong request line (414) from an overlong header block (431).
        self._head_start = b""
        self._skipped_empty_bytes = 0
        self._body_end = state.ASK_H11
        self._method = b""
        self._version = b"1.1"
        self._is_keep_alive = True
        self._framing = state.NOT_STARTED
        self._remaining = 0
        self._has_sent_continue = False
        # The current request's chunked body decoder; h11 is fed nothing more once it exists.
        self._chunked: ChunkedBody | None = None
        # Whether the current response carries a body (not HEAD, 1xx, 204 or 304).
        self.sends_body = True

    # -- reading ------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; ``b""`` means the client closed its side."""
        if self._chunked is not None:
            self._chunked.feed(data)
            return
        if data and not self._head_start and self._conn.their_state is h11.IDLE:
            data = self._skip_empty_lines(data)
            if not data:
                return
        if len(self._head_start) <= MAX_REQUEST_LINE_BYTES and self._conn.their_state is h11.IDLE:
            self._head_start += data[: MAX_REQUEST_LINE_BYTES + 2]
        self._conn.receive_data(data)

    def _skip_empty_lines(self, data: bytes) -> bytes:
        """RFC 9112 section 2.2: ignore empty lines before a request line (h11 would answer 400).

        Some clients send a CRLF after a request body. A few bytes of them are
        skipped; a flood still reaches the parser, which refuses it.
        """
        stripped = data.lstrip(b"\r\n")
        skipped = self._skipped_empty_bytes + len(data) - len(stripped)
        if skipped > MAX_SKIPPED_EMPTY_LINE_BYTES:
            return data
        self._skipped_empty_bytes = skipped
        return stripped

    def next_event(self) -> Event:
        """The next event of the current request, ``NEED_DATA`` or ``PAUSED``.

        Raises:
            HTTPProtocolError: the bytes are not an HTTP/1.1 request we serve.
        """
        body_end = self._body_end
        if body_end is not state.ASK_H11:
            if body_end is state.OWED:
                self._body_end = state.KNOWN
                return REQUEST_END
            # h11 still expects a body we know is absent: answer as it would once done.
            trailing, is_closed = self._pending()
            if trailing:
                return PAUSED
            return CONNECTION_CLOSED if is_closed else NEED_DATA
        if self._chunked is not None:
            return self._next_chunk(self._chunked)
        try:
            event = self._conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise classify(exc.error_status_hint, str(exc), self._head_start, MAX_REQUEST_LINE_BYTES) from None
        kind = type(event)
        if kind is h11.Request:
            return self._start_request(event)  # type: ignore[arg-type]
        if kind is h11.Data:
            # h11 hands over a bytearray; ASGI promises the app bytes (its "body" is a byte string).
            return RequestBody(bytes(event.data))  # type: ignore[union-attr]
        if kind is h11.EndOfMessage:
            return REQUEST_END
        if event is h11.NEED_DATA:
            return NEED_DATA
        if event is h11.PAUSED:
            return PAUSED
        return CONNECTION_CLOSED  # h11.ConnectionClosed: the only event left to a server that reads

    def _start_request(self, request: h11.Request) -> RequestHead:
        version = request.http_version
        head, has_close, is_chunked = read_head(request.method, request.target, version, request.headers.raw_items())
        self._method = request.method
        self._version = version
        # HTTP/1.0 keep-alive is not offered (as h11 does); HTTP/1.1 persists
        # unless the client says "Connection: close" (RFC 9112 section 9.3).
        self._is_keep_alive = version == b"1.1" and not has_close
        # RFC 9112 section 6.3: a request with neither header has no body. Upgrade
        # and Expect requests take h11's path, which tracks their extra states.
        if not is_chunked and not head.content_length and not head.has_upgrade and not self._conn.they_are_waiting_for_100_continue:
            self._body_end = state.OWED
        if is_chunked:
            # h11 accepted it, so it is exactly "chunked": the body is ours to decode.
            self._chunked = ChunkedBody(*self._conn.trailing_data)
        return head

    def _next_chunk(self, chunked: ChunkedBody) -> Event:
        try:
            data = chunked.next_event()
        except ChunkedFramingError as exc:
            raise HTTPProtocolError(400, str(exc)) from None
        if data is Progress.NEED_DATA:
            return NEED_DATA
        if data is Progress.END:
            self._body_end = state.KNOWN
            return REQUEST_END
        return RequestBody(data)

    def _pending(self) -> tuple[bytes, bool]:
        """Bytes received after the current request, and whether the client closed its side."""
        if self._chunked is not None:
            return self._chunked.trailing
        trailing, is_closed = self._conn.trailing_data
        return bytes(trailing), is_closed

    def _is_client_waiting_for_100(self) -> bool:
        # h11 stops waiting once it sees body bytes; a chunked body never reaches h11.
        return self._conn.they_are_waiting_for_100_continue and not (self._chunked is not None and self._chunked.has_received_data)

    @property
    def starts_like_tls(self) -> bool:
        """The client opened with a TLS handshake record: it speaks HTTPS to a plain-HTTP port."""
        return self._head_start[:2] == b"\x16\x03"

    @property
    def has_partial_request(self) -> bool:
        """Some bytes of the next request head have arrived, but not all of it."""
        return bool(self._head_start) and self._conn.their_state is h11.IDLE

    @property
    def is_waiting_for_100_continue(self) -> bool:
        """The client sent ``Expect: 100-continue`` and still awaits our go-ahead."""
        return self._is_client_waiting_for_100() and not self._has_sent_continue and self._framing is state.NOT_STARTED

    @property
    def is_response_started(self) -> bool:
        """A response head has been produced for the current request."""
        return self._framing is not state.NOT_STARTED

    @property
    def is_keep_alive_ready(self) -> bool:
        """The exchange finished cleanly and the connection may carry another request."""
        # An Upgrade request leaves h11 in MIGHT_SWITCH_PROTOCOL: asgidev performs
        # upgrades it serves before this point, so here it was an ordinary request
        # (RFC 9110 section 7.8: a server may ignore Upgrade) and its exchange is done.
        is_request_done = self._body_end is state.KNOWN or self._conn.their_state in _REQUEST_DONE_STATES
        return self._is_keep_alive and self._framing is state.COMPLETE and is_request_done

    @property
    def trailing_data(self) -> bytes:
        """Bytes received after the current request (for a protocol upgrade to take over)."""
        return self._pending()[0]

    def close_after_response(self) -> None:
        """End the connection after this response, saying so in it (``Connection: close``, RFC 9112 section 9.6)."""
        self._is_keep_alive = False

    def start_next_cycle(self) -> bool:
        """Begin the next request on a keep-alive connection, keeping pipelined bytes.

        Returns whether bytes (or the client's end-of-file) are already waiting to be parsed.
        """
        trailing, is_closed = self._pending()
        self._chunked = None
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._head_start = b""
        self._skipped_empty_bytes = 0
        self._body_end = state.ASK_H11
        self._framing = state.NOT_STARTED
        self._has_sent_continue = False
        self._method = b""
        self._version = b"1.1"
        if trailing:
            self.receive_data(trailing)
        if is_closed:
            self._conn.receive_data(b"")
        return bool(trailing) or is_closed

    # -- writing ------------------------------------------------------------------

    def continue_response(self) -> bytes:
        """The interim ``100 Continue`` (RFC 9110 section 10.1.1)."""
        self._has_sent_continue = True
        return _CONTINUE

    def response_head(
        self,
        status_code: int,
        headers: list[tuple[bytes, bytes]],
        defaults: DefaultHeaders | None = None,
        *,
        complete_body: bytes | None = None,
    ) -> bytes:
        """Serialise the status line and headers, choosing the body framing.

        ``defaults`` are added unless the app set a header of the same name.
        ``complete_body``, when the whole body is already known, lets a
        response without Content-Length get one instead of chunked framing.

        Raises:
            InvalidResponseError: invalid status or header from the app.
        """
        if self._framing is not state.NOT_STARTED:
            raise InvalidResponseError("a response was already started")
        if status_code < 200:
            raise InvalidResponseError("1xx statuses are interim; send a final status (200 or more)")
        lines = [_STATUS_LINES.get(status_code) or b"HTTP/1.1 %d \r\n" % status_code, b""]
        default_names = defaults.names if defaults is not None else frozenset()
        overridden: set[bytes] | None = None
        length = -1
        has_connection_close = False
        problem = header_problem(headers)
        if problem is not None:
            raise InvalidResponseError(problem)
        for name, value in headers:
            if name in default_names:
                overridden = {name} if overridden is None else overridden | {name}
            if name == b"content-length":
                if not value.isdigit() or (length != -1 and int(value) != length):
                    raise InvalidResponseError(f"invalid Content-Length {value!r}")
                length = int(value)
            elif name == b"transfer-encoding":
                continue  # the framing below decides (RFC 9112 section 6.1)
            elif name == b"connection" and b"close" in value.lower():
                self._is_keep_alive = False
                has_connection_close = True
            lines.append(b"%s: %s\r\n" % (name, value))
        if defaults is not None:
            lines[1] = defaults.lines() if overridden is None else defaults.lines_without(overridden)
        if status_code < 200 or status_code in (204, 304):
            self._framing = state.NO_BODY
        elif self._method == b"HEAD":
            # Same headers as the GET would get, no body (RFC 9110 section 9.3.2).
            self._framing = state.NO_BODY
            if length == -1 and complete_body is not None:
                lines.append(b"content-length: %d\r\n" % len(complete_body))
        elif length != -1:
            self._framing = state.CONTENT_LENGTH
            self._remaining = length
        elif complete_body is not None:
            self._framing = state.CONTENT_LENGTH
            self._remaining = len(complete_body)
            lines.append(b"content-length: %d\r\n" % len(complete_body))
        elif self._version == b"1.1":
            self._framing = state.CHUNKED
            lines.append(b"transfer-encoding: chunked\r\n")
        else:
            self._framing = state.UNTIL_CLOSE
            self._is_keep_alive = False
        self.sends_body = self._framing is not state.NO_BODY
        is_body_unread = self._body_end is state.ASK_H11 and self._conn.their_state is h11.SEND_BODY
        if self._is_client_waiting_for_100() or is_body_unread:
            # Answering before reading the whole body: the client may or may not
            # send it, so this connection cannot safely carry another request.
            self._is_keep_alive = False
        if not self._is_keep_alive and not has_connection_close:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    def body(self, data: bytes) -> bytes:
        """Frame a body chunk.

        Raises:
            InvalidResponseError: more data than the declared Content-Length.
        """
        framing = self._framing
        if not data or framing is state.NO_BODY:
            return b""
        if framing is state.CONTENT_LENGTH:
            self._remaining -= len(data)
            if self._remaining < 0:
                raise InvalidResponseError("the app sent more body than its Content-Length declared")
            return data
        if framing is state.CHUNKED:
            return b"%x\r\n%s\r\n" % (len(data), data)
        if framing is state.UNTIL_CLOSE:
            return data
        raise InvalidResponseError("body sent outside a response")

    def end(self) -> bytes:
        """Finish the response.

        Raises:
            InvalidResponseError: less body than the declared Content-Length.
        """
        framing = self._framing
        self._framing = state.COMPLETE
        if framing is state.CHUNKED:
            return b"0\r\n\r\n"
        if framing is state.CONTENT_LENGTH and self._remaining:
            self._is_keep_alive = False
            raise InvalidResponseError(f"the response ended {self._remaining} bytes short of its Content-Length")
        if framing is state.UNTIL_CLOSE:
            self._is_keep_alive = False
        return b""

    def error_response(
        self, status_code: int, message: str, defaults: DefaultHeaders | None = None, extra_headers: list[tuple[bytes, bytes]] | None = None
    ) -> bytes:
        """A complete plain-text error response that closes the connection.

        Returns ``b""`` when a response has already started and none can be sent.
        """
        if self._framing is not state.NOT_STARTED:
            return b""
        body = (message + "\n").encode("utf-8", "replace")
        self._is_keep_alive = False
        headers = [*(extra_headers or ()), (b"content-type", b"text/plain; charset=utf-8"), (b"x-content-type-options", b"nosniff")]
        return self.response_head(status_code, headers, defaults, complete_body=body) + self.body(body) + self.end()
