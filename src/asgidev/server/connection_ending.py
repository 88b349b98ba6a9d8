"""How an HTTP connection ends when its server stops: finish, linger, hand off or close; abort after the grace period.

A reload worker passes an idle connection to the next worker (the socket and
the bytes already read), so a keep-alive client sending its next request at
that moment is not failed. A TLS session cannot be passed on: the connection
answers the request on its way, if any, then closes (docs/reloading.md).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING

from asgidev.asgi.http import ResponseState
from asgidev.server.connection_state import CLOSING, HANDOFF_WAITING, SERVING, Phase

if TYPE_CHECKING:
    from asgidev.asgi.http import HTTPCycle
    from asgidev.protocols.http11 import HTTP11Protocol
    from asgidev.server.deadline import Deadline
    from asgidev.server.shared import ServerShared

# How long an idle HTTPS connection stays open once a reload or shutdown begins: a TLS
# session cannot be handed on, and closing it at once fails a request sent that instant.
# A busy client's next request comes well within it and gets Connection: close (docs/reloading.md).
TLS_SHUTDOWN_LINGER_S = 1.0


class ConnectionEnding:
    """The shutdown half of ``HTTPConnection`` (server/connection.py), which holds these attributes."""

    # Where the connection is in the server's life (connection_state.Phase).
    __slots__ = ("_phase",)
    shared: ServerShared
    protocol: HTTP11Protocol
    transport: asyncio.Transport
    cycle: HTTPCycle | None
    deadline: Deadline
    _phase: Phase  # set by HTTPConnection.__init__

    def _pause_reading(self) -> None:
        raise NotImplementedError  # the connection's: it owns the reading state

    def shutdown(self) -> None:
        """Stop after the current response; close (or hand off) now if idle. Not on the per-request path."""
        if self._phase is SERVING:
            self._phase = CLOSING
        if self.cycle is None:
            if self.shared.is_tls:
                # Not passed on (see _close_idle): a request on its way is answered, then the connection closes.
                if not self.protocol.has_partial_request:
                    self.deadline.set(TLS_SHUTDOWN_LINGER_S, is_idle=True)
                return
            self._close_idle()
        elif self.cycle.response_state is ResponseState.COMPLETE:
            self.transport.close()
        elif self.shared.is_tls and not self.protocol.is_response_started:
            self.protocol.close_after_response()

    def _close_idle(self) -> None:
        """Between requests while shutting down: pass the connection to the next worker, or close it.

        Handing over (rather than closing) is what keeps a reload from failing
        a keep-alive client that sends its next request at that very moment.
        """
        handoff = self.shared.handoff
        transport = self.transport
        sock = transport.get_extra_info("socket")
        # A TLS session lives in this process: its socket cannot be passed on.
        # Closing it cleanly (close_notify) lets the client open a new one.
        if handoff is None or sock is None or transport.is_closing() or self.shared.is_tls:
            transport.close()
            return
        if transport.get_write_buffer_size():
            # The last response is still being sent: hand over once it is out.
            # A zero high-water mark makes asyncio call resume_writing exactly then.
            # Meanwhile read nothing: a next request must reach the new worker whole.
            self._phase = HANDOFF_WAITING
            self._pause_reading()
            transport.set_write_buffer_limits(high=0)
            return
        fd = os.dup(sock.fileno())
        pending = self.protocol.trailing_data
        transport.abort()  # closes our descriptor only; the duplicate keeps the socket open
        handoff(fd, pending)

    def hand_over(self) -> None:
        """An upgrade took over the transport: stop tracking it as an HTTP connection."""
        self.deadline.stop()
        self.shared.connections.discard(self)

    def abort(self) -> None:
        """Grace period over: close the connection whatever it is doing."""
        if self.cycle is not None and self.cycle.response_state is not ResponseState.COMPLETE:
            self.cycle.feed_disconnect()
        self.transport.close()
