"""Strict decoding of chunked request bodies (RFC 9112 section 7.1).

h11 reads chunked bodies leniently: a chunk-size line may carry whitespace
after the size, any bytes after ``;`` (a bare CR included) and up to 20 hex
digits. Each of those is read differently by some proxy in front of a
server, which is how requests get smuggled past it. So asgidev decodes
chunked bodies itself and refuses anything outside the grammar:

    chunked-body = *chunk last-chunk trailer-section CRLF
    chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
    chunk-size   = 1*HEXDIG
    chunk-ext    = *( ";" chunk-ext-name [ "=" chunk-ext-val ] )

The optional whitespace (BWS) the RFC allows around ``;`` and ``=`` in
chunk extensions is refused too: RFC 9112 section 7.1.1 notes that it exists
only for old senders, and it is where parsers disagree. Lines end with CRLF
only (no bare LF inside a body). Extensions and trailer fields are checked,
then dropped: ASGI has no place for them.

Sans-IO: ``feed`` bytes, pull ``next_event`` until ``Progress.NEED_DATA``.
"""

from __future__ import annotations

import enum
import re
from typing import Final

# The largest chunk size accepted. Proxies parse the size into a signed 64-bit
# integer (nginx's off_t); a larger one wraps or saturates differently in each,
# which makes the body end at different places. A client that means to send an
# exabyte can send it in several chunks.
MAX_CHUNK_SIZE: Final = 2**63 - 1
# Hex digits in a chunk size; more than this can only be leading zeros or too large.
MAX_CHUNK_SIZE_DIGITS: Final = 16
# A chunk-size line (size plus extensions) longer than this is refused: extensions
# carry nothing asgidev uses, and the line is buffered whole before it is judged.
MAX_CHUNK_LINE_BYTES: Final = 4 * 1024
# The trailer section is buffered whole too; the same bound as a request head
# would allow a client to double the memory a request can pin, so it is smaller.
MAX_TRAILER_BYTES: Final = 16 * 1024

_TOKEN: Final = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED_STRING: Final = rb'"(?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*"'
_SIZE_LINE: Final = re.compile(rb"([0-9A-Fa-f]+)((?:;%s(?:=(?:%s|%s))?)*)" % (_TOKEN, _TOKEN, _QUOTED_STRING))
# A trailer field line: no obs-fold, no CTL but HTAB in the value (RFC 9110 section 5.5).
_FIELD_LINE: Final = re.compile(rb"%s:[\t \x21-\x7e\x80-\xff]*" % _TOKEN)


class ChunkedFramingError(ValueError):
    """The body is not valid chunked framing; the message says what is wrong (the client gets a 400)."""


class Progress(enum.Enum):
    """What ``next_event`` returns when it has no body bytes to give."""

    NEED_DATA = enum.auto()
    END = enum.auto()  # the body is complete; ``trailing`` holds what follows it


class _State(enum.Enum):
    """Where the decoder is in the chunked-body grammar."""

    SIZE_LINE = enum.auto()
    DATA = enum.auto()
    DATA_CRLF = enum.auto()
    TRAILER = enum.auto()
    DONE = enum.auto()


class ChunkedBody:
    """Decodes one chunked request body; bytes after it stay in ``trailing``."""

    __slots__ = ("_buffer", "_is_closed", "_remaining", "_state", "_trailer_bytes", "has_received_data")

    def __init__(self, received: bytes = b"", is_closed: bool = False) -> None:
        """Start with the bytes that came after the request head (and whether the client closed)."""
        self._buffer = bytearray(received)
        self._state = _State.SIZE_LINE
        self._remaining = 0
        self._trailer_bytes = 0
        self._is_closed = is_closed
        # Whether any body byte arrived (a client that sends its body does not wait for 100 Continue).
        self.has_received_data = bool(received)

    def feed(self, data: bytes) -> None:
        """Bytes from the client; ``b""`` means it closed its side."""
        if not data:
            self._is_closed = True
            return
        self.has_received_data = True
        self._buffer += data

    @property
    def is_complete(self) -> bool:
        return self._state is _State.DONE

    @property
    def trailing(self) -> tuple[bytes, bool]:
        """Bytes received after the body (the next request), and whether the client closed."""
        return (bytes(self._buffer) if self._state is _State.DONE else b""), self._is_closed

    def next_event(self) -> bytes | Progress:
        """The next piece of body data, or ``Progress``.

        Raises:
            ChunkedFramingError: the bytes break the chunked grammar or its limits.
        """
        while True:
            state = self._state
            if state is _State.DATA:
                if not self._buffer:
                    return self._need_data()
                data = bytes(self._buffer[: self._remaining])
                del self._buffer[: len(data)]
                self._remaining -= len(data)
                if not self._remaining:
                    self._state = _State.DATA_CRLF
                return data
            if state is _State.DATA_CRLF:
                if len(self._buffer) < 2:
                    if self._buffer and self._buffer != b"\r":
                        raise ChunkedFramingError("Chunk data longer than its chunk size.")
                    return self._need_data()
                if self._buffer[:2] != b"\r\n":
                    raise ChunkedFramingError("Chunk data longer than its chunk size.")
                del self._buffer[:2]
                self._state = _State.SIZE_LINE
            elif state is _State.SIZE_LINE:
                line = self._take_line(MAX_CHUNK_LINE_BYTES, "Chunk size line too long.")
                if line is None:
                    return self._need_data()
                self._start_chunk(line)
            elif state is _State.TRAILER:
                line = self._take_line(MAX_TRAILER_BYTES - self._trailer_bytes, "Chunked trailer section too large.")
                if line is None:
                    return self._need_data()
                if not line:
                    self._state = _State.DONE
                    return Progress.END
                self._trailer_bytes += len(line) + 2
                if not _FIELD_LINE.fullmatch(line):
                    raise ChunkedFramingError("Invalid trailer field in a chunked body.")
            else:
                return Progress.END

    def _start_chunk(self, line: bytes) -> None:
        match = _SIZE_LINE.fullmatch(line)
        if match is None:
            raise ChunkedFramingError("Invalid chunk size line: a hex size, optionally ';name=value' extensions, then CRLF.")
        digits = match[1]
        if len(digits) > MAX_CHUNK_SIZE_DIGITS or int(digits, 16) > MAX_CHUNK_SIZE:
            raise ChunkedFramingError(f"Chunk size too large: at most {MAX_CHUNK_SIZE:x} (hex).")
        size = int(digits, 16)
        if size:
            self._remaining = size
            self._state = _State.DATA
        else:
            self._state = _State.TRAILER

    def _take_line(self, limit: int, too_long: str) -> bytes | None:
        """The next CRLF-terminated line without its CRLF, or None while it is incomplete."""
        end = self._buffer.find(b"\n", 0, limit + 2)
        if end == -1:
            if len(self._buffer) > limit + 1:
                raise ChunkedFramingError(too_long)
            return None
        if end == 0 or self._buffer[end - 1] != 0x0D:
            raise ChunkedFramingError("A line in a chunked body must end with CRLF.")
        line = bytes(self._buffer[: end - 1])
        del self._buffer[: end + 1]
        if b"\r" in line:
            raise ChunkedFramingError("Bare CR in a chunked body's framing.")
        return line

    def _need_data(self) -> Progress:
        if self._is_closed:
            raise ChunkedFramingError("The client closed the connection before the chunked body ended.")
        return Progress.NEED_DATA
