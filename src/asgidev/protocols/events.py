"""The events ``HTTP11Protocol.next_event`` hands the server: asgidev's own, so h11 stays inside ``http11.py``.

A request reads as one ``RequestHead``, any number of ``RequestBody`` chunks
and one ``RequestEnd``. Between them the protocol may answer ``NEED_DATA``
(feed it more bytes) or ``PAUSED`` (a whole request was read; the bytes after
it wait for ``start_next_cycle``), and ``ConnectionClosed`` once the client has
closed its side between requests. Everything the server needs to route, guard
and build the ASGI scope is on the head, so nobody reads the parser's state.
"""

from __future__ import annotations

import enum
from typing import Final, NamedTuple

Headers = list[tuple[bytes, bytes]]


class RequestHead(NamedTuple):
    """A request line and its headers, checked against RFC 9112 and asgidev's limits."""

    method: bytes
    target: bytes
    # b"1.1" or b"1.0": the only versions that reach the server (505 otherwise).
    http_version: bytes
    # As the ASGI scope carries them: names lowercased, values and order as received;
    # for an absolute-form target, Host is the target's authority (RFC 9112 section 3.2.2).
    headers: Headers
    # The Host the request is for (None when absent), for the host guard.
    host: bytes | None
    # The declared body length, None when absent (chunked, or no body).
    content_length: int | None
    # The request carries an Upgrade header (a WebSocket handshake, perhaps).
    has_upgrade: bool


class RequestBody(NamedTuple):
    """A piece of the request body, already de-chunked."""

    data: bytes


class RequestEnd:
    """The request's body (if any) has all arrived."""

    __slots__ = ()


class ConnectionClosed:
    """The client closed its side of the connection between requests."""

    __slots__ = ()


class Wait(enum.Enum):
    """Nothing more to hand out yet, and why."""

    NEED_DATA = enum.auto()
    PAUSED = enum.auto()


# Feed more bytes before asking again.
NEED_DATA: Final = Wait.NEED_DATA
# A whole request was read: what follows is parsed after ``start_next_cycle``.
PAUSED: Final = Wait.PAUSED
REQUEST_END: Final = RequestEnd()
CONNECTION_CLOSED: Final = ConnectionClosed()

Event = RequestHead | RequestBody | RequestEnd | ConnectionClosed | Wait
