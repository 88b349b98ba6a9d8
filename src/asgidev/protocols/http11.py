"""HTTP/1.1 on h11, with asgidev's limits and error statuses.

Sans-IO: feed bytes with ``receive_data``, pull h11 events with
``next_event``, and turn responses into bytes with ``response_head``,
``body`` and ``end``. Every client mistake becomes an ``HTTPProtocolError``
carrying the status the client should get (RFC 9112 section 2.2 and 3).
"""

from __future__ import annotations

import http
from typing import Final

import h11

# A request head (request line + headers) larger than this is refused with 431.
# 64 KiB is generous for cookies and long URLs yet bounds what a client can
# make the server buffer before the app sees anything (h11's own default is 16 KiB).
MAX_HEAD_BYTES: Final = 64 * 1024
# A request line longer than this is refused with 414 (RFC 9112 section 3
# recommends supporting at least 8000 octets).
MAX_REQUEST_LINE_BYTES: Final = 8 * 1024

SUPPORTED_VERSIONS: Final = frozenset({b"1.0", b"1.1"})

# Reason phrases computed once: h11 would otherwise send an empty reason.
_REASONS: Final = {s.value: s.phrase.encode() for s in http.HTTPStatus}

NEED_DATA: Final = h11.NEED_DATA
PAUSED: Final = h11.PAUSED
Request = h11.Request
Data = h11.Data
EndOfMessage = h11.EndOfMessage
ConnectionClosed = h11.ConnectionClosed
Event = h11.Request | h11.Data | h11.EndOfMessage | h11.ConnectionClosed | type[h11.NEED_DATA] | type[h11.PAUSED]


class HTTPProtocolError(Exception):
    """The client sent something we cannot serve; answer ``status_code`` and close."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class HTTP11Protocol:
    """One server-side HTTP/1.1 connection's protocol state (wraps ``h11.Connection``)."""

    __slots__ = ("_conn", "_head_start")

    def __init__(self, max_head_bytes: int = MAX_HEAD_BYTES) -> None:
        self._conn = h11.Connection(h11.SERVER, max_incomplete_event_size=max_head_bytes)
        # The first bytes of the current request head, kept only to tell an
        # overlong request line (414) from an overlong header block (431).
        self._head_start = b""

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the client; ``b""`` means the client closed its side."""
        if len(self._head_start) <= MAX_REQUEST_LINE_BYTES and self._conn.their_state is h11.IDLE:
            self._head_start += data[: MAX_REQUEST_LINE_BYTES + 2]
        self._conn.receive_data(data)

    def next_event(self) -> Event:
        """The next parsed event, ``NEED_DATA`` or ``PAUSED``.

        Raises:
            HTTPProtocolError: the bytes are not an HTTP/1.1 request we serve.
        """
        try:
            event = self._conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise self._classify(exc) from None
        if type(event) is h11.Request:
            if event.http_version not in SUPPORTED_VERSIONS:
                raise HTTPProtocolError(505, "HTTP version not supported; this server speaks HTTP/1.0 and HTTP/1.1.")
            if len(event.target) > MAX_REQUEST_LINE_BYTES:
                raise HTTPProtocolError(414, "Request line too long.")
        return event  # type: ignore[return-value]

    def _classify(self, exc: h11.RemoteProtocolError) -> HTTPProtocolError:
        status = exc.error_status_hint
        message = str(exc)
        if status == 431:
            line_end = self._head_start.find(b"\n")
            if line_end == -1 or line_end > MAX_REQUEST_LINE_BYTES:
                return HTTPProtocolError(414, "Request line too long.")
            message = "Request header fields too large."
        elif status == 501:
            message = "Transfer-Encoding not implemented; only chunked is supported."
        elif "Content-Length" in message or "content-length" in message:
            message = "Invalid or conflicting Content-Length."
        return HTTPProtocolError(status, message or "Bad request.")

    @property
    def is_waiting_for_100_continue(self) -> bool:
        """The client sent ``Expect: 100-continue`` and awaits our go-ahead."""
        return self._conn.they_are_waiting_for_100_continue

    @property
    def is_keep_alive_ready(self) -> bool:
        """Both sides finished this exchange cleanly; another request may follow."""
        return self._conn.our_state is h11.DONE and self._conn.their_state is h11.DONE

    @property
    def is_response_started(self) -> bool:
        """A response head has been serialised for the current request."""
        return self._conn.our_state is not h11.IDLE and self._conn.our_state is not h11.SEND_RESPONSE

    @property
    def is_request_body_done(self) -> bool:
        """The client has sent the whole current request (or we will not read more)."""
        return self._conn.their_state is not h11.SEND_BODY

    def start_next_cycle(self) -> None:
        """Reset for the next request on a keep-alive connection."""
        self._conn.start_next_cycle()
        self._head_start = b""

    def continue_response(self) -> bytes:
        """The interim ``100 Continue`` (RFC 9110 section 10.1.1)."""
        return self._conn.send(h11.InformationalResponse(status_code=100, headers=(), reason=b"Continue")) or b""

    def response_head(self, status_code: int, headers: list[tuple[bytes, bytes]]) -> bytes:
        """Serialise the status line and headers; h11 adds framing headers.

        Raises:
            h11.LocalProtocolError: invalid status or headers from the app.
        """
        reason = _REASONS.get(status_code, b"")
        return self._conn.send(h11.Response(status_code=status_code, headers=headers, reason=reason)) or b""

    def body(self, data: bytes) -> bytes:
        """Serialise a body chunk (chunked framing added when needed)."""
        return self._conn.send(h11.Data(data=data)) or b""

    def end(self) -> bytes:
        """Serialise the end of the response."""
        return self._conn.send(h11.EndOfMessage()) or b""

    def error_response(self, status_code: int, message: str, extra_headers: list[tuple[bytes, bytes]]) -> bytes:
        """A complete plain-text error response that closes the connection.

        Returns ``b""`` when a response has already started and none can be sent.
        """
        if self._conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return b""
        body = (message + "\n").encode("utf-8", "replace")
        headers = [
            *extra_headers,
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            return self.response_head(status_code, headers) + self.body(body) + self.end()
        except h11.LocalProtocolError:
            return b""
