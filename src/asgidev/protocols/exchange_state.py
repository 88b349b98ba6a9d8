"""The HTTP/1.1 protocol's two state machines: how far the request has been read, and how the response body is delimited.

The members the per-request path compares against are also bound as module
globals (``NOT_STARTED``, ``OWED``, ...): on Python 3.11 reading an enum member
through its class goes through ``EnumType.__getattr__``, about 900
instructions under callgrind against 20 for a global, and a GET reads a dozen.
"""

from __future__ import annotations

import enum
from typing import Final


class BodyEnd(enum.Enum):
    """Whether the current request's end is known without asking h11. The only request-end state there is.

    A request without a body ends with its head: its end is returned without
    another pass through h11, about a fifth of the parsing cost of a GET.

    ASK_H11 -> (a head declaring no body, no Upgrade, no Expect) -> OWED
    OWED -> (next_event returns the RequestEnd) -> KNOWN
    ASK_H11 -> (the last chunk of a chunked body, decoded here) -> KNOWN
    any -> (start_next_cycle) -> ASK_H11
    """

    ASK_H11 = enum.auto()
    OWED = enum.auto()
    KNOWN = enum.auto()


class Framing(enum.Enum):
    """How the current response body is delimited (RFC 9112 section 6.3).

    NOT_STARTED -> (response_head) -> NO_BODY | CONTENT_LENGTH | CHUNKED | UNTIL_CLOSE -> (end) -> COMPLETE
    COMPLETE -> (start_next_cycle) -> NOT_STARTED
    """

    NOT_STARTED = enum.auto()
    NO_BODY = enum.auto()  # HEAD, 1xx, 204, 304: headers only
    CONTENT_LENGTH = enum.auto()
    CHUNKED = enum.auto()
    UNTIL_CLOSE = enum.auto()  # HTTP/1.0 client without Content-Length
    COMPLETE = enum.auto()


NOT_STARTED: Final = Framing.NOT_STARTED
NO_BODY: Final = Framing.NO_BODY
CONTENT_LENGTH: Final = Framing.CONTENT_LENGTH
CHUNKED: Final = Framing.CHUNKED
UNTIL_CLOSE: Final = Framing.UNTIL_CLOSE
COMPLETE: Final = Framing.COMPLETE
ASK_H11: Final = BodyEnd.ASK_H11
OWED: Final = BodyEnd.OWED
KNOWN: Final = BodyEnd.KNOWN
