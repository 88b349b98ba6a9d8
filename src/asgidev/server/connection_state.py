"""The HTTP connection's two state machines: what it does with the client's bytes, and where it is in the server's life.

The members the per-request path compares against are also bound as module
globals (``PARSING``, ``SERVING``, ...): on Python 3.11 reading an enum member
through its class goes through ``EnumType.__getattr__``, about 900
instructions under callgrind against 20 for a global.
"""

from __future__ import annotations

import enum
from typing import Final


class Reading(enum.Enum):
    """What the connection does with bytes from the client. The only reading state there is.

    PARSING -> (the app's body buffer is full; or, to hand off, the last response is still going out) -> PAUSED
    PAUSED -> (the app asks for more body) -> PARSING
    PARSING -> (a request read whole before its response is done, or the parser PAUSED) -> HOLDING
    PAUSED -> (the same) -> HOLDING_PAUSED
    HOLDING -> (more than MAX_PIPELINED_BYTES held) -> HOLDING_PAUSED
    any -> (the response is complete: the next request) -> PARSING

    PAUSED and HOLDING_PAUSED are the states in which the transport is paused.
    While HOLDING, bytes (pipelined requests) are kept unparsed until the response is done.
    """

    PARSING = enum.auto()
    PAUSED = enum.auto()
    HOLDING = enum.auto()
    HOLDING_PAUSED = enum.auto()


class Phase(enum.Enum):
    """Where the connection is in the server's life. The only lifecycle state there is.

    SERVING -> (shutdown, or accepted while the server shuts down) -> CLOSING:
        the current response is finished, then the connection is handed to the next worker or closed
    CLOSING -> (idle, but the last response is still in the write buffer) -> HANDOFF_WAITING
    HANDOFF_WAITING -> (the buffer drained) -> CLOSING, and the connection is handed off
    """

    SERVING = enum.auto()
    CLOSING = enum.auto()
    HANDOFF_WAITING = enum.auto()


PARSING: Final = Reading.PARSING
PAUSED: Final = Reading.PAUSED
HOLDING: Final = Reading.HOLDING
HOLDING_PAUSED: Final = Reading.HOLDING_PAUSED
SERVING: Final = Phase.SERVING
CLOSING: Final = Phase.CLOSING
HANDOFF_WAITING: Final = Phase.HANDOFF_WAITING
