"""Response header rules: the one validator for every header asgidev sends (HTTP responses and the WebSocket 101), and the server's default headers."""

from __future__ import annotations

import re
import time
from email.utils import formatdate
from typing import Final

# RFC 9110 section 5.6.2: header names are tokens.
TOKEN_CHARS: Final = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Control characters a field value must not carry (RFC 9110 section 5.5): CR and
# LF would end the header (response splitting); clients reject the others. HTAB is allowed.
FORBIDDEN_VALUE: Final = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")


def header_problem(headers: list[tuple[bytes, bytes]]) -> str | None:
    """Why these headers may not be sent (the first invalid one), or None when all may."""
    for name, value in headers:
        if not name or name.translate(None, TOKEN_CHARS):
            return f"invalid header name {name!r}"
        if FORBIDDEN_VALUE.search(value):
            return f"invalid characters in the value of header {name.decode('latin-1')!r}"
    return None


class DefaultHeaders:
    """Headers the server adds unless the app sets them (Server, Date, ``--header``), serialised once.

    The Date value is re-formatted at most once a second (RFC 9110 section 6.6.1).
    """

    __slots__ = ("_date_second", "_headers", "_lines", "_static", "is_dated", "names")

    def __init__(self, headers: list[tuple[bytes, bytes]], *, is_dated: bool) -> None:
        problem = header_problem(headers)
        if problem is not None:
            raise ValueError(f"default headers: {problem}")
        self._headers = headers
        self.is_dated = is_dated
        self.names = frozenset(name for name, _ in headers) | ({b"date"} if is_dated else frozenset())
        self._static = b"".join(b"%s: %s\r\n" % pair for pair in headers)
        self._date_second = -1
        self._lines = self._static

    def lines(self) -> bytes:
        """All default header lines, ready to send."""
        if self.is_dated:
            now = int(time.time())
            if now != self._date_second:
                self._date_second = now
                self._lines = self._static + b"date: %s\r\n" % formatdate(now, usegmt=True).encode("ascii")
        return self._lines

    def lines_without(self, names: set[bytes]) -> bytes:
        """The default lines except those the app set itself (the rare path)."""
        kept = b"".join(b"%s: %s\r\n" % (n, v) for n, v in self._headers if n not in names)
        if self.is_dated and b"date" not in names:
            kept += b"date: %s\r\n" % formatdate(time.time(), usegmt=True).encode("ascii")
        return kept

    def merged(self, app_headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
        """Defaults the app did not set, then the app's headers, as pairs (for non-HTTP/1.1 serialisers)."""
        names = {name for name, _ in app_headers}
        merged = [pair for pair in self._headers if pair[0] not in names]
        if self.is_dated and b"date" not in names:
            merged.append((b"date", formatdate(time.time(), usegmt=True).encode("ascii")))
        return merged + list(app_headers)
