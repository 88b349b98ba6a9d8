"""One client connection speaking HTTP/1.1: an ``asyncio.Protocol`` driving the sans-IO parser.

The per-request hot path lives here, so it uses a Protocol (callbacks, no
reader task) rather than streams: the benchmarks showed it cheaper. Ownership
is still clear: the connection owns at most one request task at a time, and
the server owns the connections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final, Protocol

from asgidev._types import Headers
from asgidev.asgi.disconnect import is_client_disconnect
from asgidev.asgi.http import HTTPCycle, RequestState, ResponseState
from asgidev.protocols import http11
from asgidev.protocols.events import ConnectionClosed, RequestBody, RequestEnd, RequestHead, Wait
from asgidev.server import timing
from asgidev.server.access_log import head_line, log_refusal, log_response, request_line
from asgidev.server.app_errors import report_app_exception
from asgidev.server.connection_ending import ConnectionEnding
from asgidev.server.connection_state import CLOSING, HANDOFF_WAITING, HOLDING, HOLDING_PAUSED, PARSING, PAUSED, SERVING, Phase, Reading
from asgidev.server.deadline import Deadline
from asgidev.server.shared import ServerShared
from asgidev.server.write_flow import WriteFlow
from asgidev.sockets import describe_peer, peer_address

logger = logging.getLogger(__name__)

# Bytes of pipelined requests we accept while the current response is still
# being produced, before we stop reading: bounds memory against a client that
# pipelines without end (the next requests wait in the kernel instead).
MAX_PIPELINED_BYTES = 64 * 1024
# Read on every request, so bound once (Python 3.11 reads enum members slowly: see asgi/http.py).
_RESPONSE_COMPLETE: Final = ResponseState.COMPLETE


class UpgradeHandler(Protocol):
    """Takes over a connection whose request asks for another protocol (WebSocket)."""

    def wants(self, headers: Headers) -> bool:
        """Whether this request is an upgrade this handler serves."""

    def take_over(self, connection: HTTPConnection, head: RequestHead) -> None:
        """Switch the transport to the new protocol; the HTTP connection is done."""


class HTTPConnection(ConnectionEnding, asyncio.Protocol):
    """Serves requests from one client in order, one at a time (RFC 9112 section 9.3.2)."""

    __slots__ = (
        "_initial_data",
        "_pipelined_bytes",
        "_reading",
        "_received_at",
        "_upgrade",
        "client",
        "cycle",
        "deadline",
        "loop",
        "protocol",
        "server",
        "shared",
        "task",
        "transport",
        "write_flow",
    )

    def __init__(self, shared: ServerShared, upgrade: UpgradeHandler | None = None, initial_data: bytes = b"") -> None:
        self.shared = shared
        self.loop = asyncio.get_running_loop()
        self.protocol = http11.HTTP11Protocol()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]  # set in connection_made, before any other callback
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int] | None = None
        self.cycle: HTTPCycle | None = None
        self.task: asyncio.Task[None] | None = None
        self.deadline = Deadline(self.loop, self._on_timeout)
        self.write_flow = WriteFlow(self.loop, shared.config.timeout_write, self._on_write_stall)
        self._reading: Reading = PARSING
        self._phase: Phase = SERVING
        # Bytes held unparsed while HOLDING (connection_state.Reading).
        self._pipelined_bytes = 0
        self._upgrade = upgrade
        # Bytes a previous worker had already read from this client (reload handoff).
        self._initial_data = initial_data
        # With --server-timing: when the bytes that may complete a request head arrived.
        self._received_at = 0.0

    # -- asyncio.Protocol callbacks -------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.client = peer_address(transport.get_extra_info("peername"))
        self.server = peer_address(transport.get_extra_info("sockname"))
        self.shared.connections.add(self)
        if self._initial_data:
            self.protocol.receive_data(self._initial_data)
        if self.shared.is_shutting_down:
            # Accepted just before the listener closed: pass it on (or close it)
            # now. A TLS connection cannot be passed on, and its client is about
            # to send a request: answer that one here, then close.
            self._phase = CLOSING
            if not self.shared.is_tls:
                self._close_idle()
                return
        self.deadline.set(self.shared.config.timeout_request_head)
        if self._initial_data:
            self._initial_data = b""
            self._process()

    def data_received(self, data: bytes) -> None:
        if self.shared.is_server_timing:
            self._received_at = time.perf_counter()
        self.protocol.receive_data(data)
        reading = self._reading
        if reading is HOLDING or reading is HOLDING_PAUSED:
            self._pipelined_bytes += len(data)
            if self._pipelined_bytes > MAX_PIPELINED_BYTES:
                self._pause_reading()
            return
        self._process()

    def eof_received(self) -> bool | None:
        # A client that closes its side mid-exchange has gone away (most HTTP
        # clients never half-close); returning None lets asyncio close the transport.
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.deadline.stop()
        self.shared.connection_closed(self)
        cycle = self.cycle
        if cycle is not None and cycle.response_state is not _RESPONSE_COMPLETE:
            cycle.feed_disconnect()
            if cycle.status and self.shared.is_access_log:
                # A stream the client left (a closed SSE tab) still gets its line.
                log_response(cycle, cycle.body_bytes, "client disconnected")
        self.write_flow.stop()

    def pause_writing(self) -> None:
        self.write_flow.pause()

    def resume_writing(self) -> None:
        self.write_flow.resume()
        if self._phase is HANDOFF_WAITING:
            self._phase = CLOSING
            self._close_idle()

    # -- parsing ------------------------------------------------------------------

    def _process(self) -> None:
        protocol = self.protocol
        while True:
            try:
                event = protocol.next_event()
            except http11.HTTPProtocolError as exc:
                self._reject(exc.status_code, exc.message)
                return
            match event:
                case RequestHead():
                    self._start_request(event)
                    if self._upgrade is not None and self.cycle is None:
                        return  # handed over to the WebSocket path
                case RequestEnd():
                    self.deadline.clear()
                    cycle = self.cycle
                    if cycle is not None:
                        cycle.feed_end()
                        if cycle.response_state is not _RESPONSE_COMPLETE:
                            # Anything after this request is pipelined: parse it once the response is done.
                            self._hold()
                            return
                case RequestBody(data=data):
                    self.deadline.clear()  # the body is moving: restart the slow-body clock at the next wait
                    cycle = self.cycle
                    if cycle is not None and self.shared.policy.limit_request_body is not None and self._over_body_limit(cycle, len(data)):
                        return
                    if cycle is not None and not cycle.feed_body(data):
                        self._pause_reading()
                case Wait.NEED_DATA:
                    self._wait_for_client()
                    return
                case Wait.PAUSED:
                    self._hold()
                    return
                case ConnectionClosed():
                    self.transport.close()
                    return

    def _wait_for_client(self) -> None:
        """The parser needs more bytes: start the clock on the client, if it is the one expected to send."""
        if (cycle := self.cycle) is None:
            # Idle, or part of the next head arrived: the head timeout starts with its first bytes.
            if not self.deadline.is_set or (self.deadline.is_idle and self.protocol.has_partial_request):
                self.deadline.set(self.shared.config.timeout_request_head)
        elif not self.deadline.is_set and (
            cycle.request_state is RequestState.RECEIVING
            and (self._reading is PARSING or self._reading is HOLDING)
            and not self.protocol.is_waiting_for_100_continue
        ):
            # Only while the client is the one expected to send: not while
            # we hold it back (paused reading, 100 Continue not yet sent).
            self.deadline.set(self.shared.config.timeout_request_body)

    def _start_request(self, head: RequestHead) -> None:
        self.deadline.clear()
        shared = self.shared
        refusal = shared.policy.refusal(head, shared.active_requests)
        if refusal is not None:
            self._reject(*refusal, head=head)
            return
        if head.has_upgrade and self._upgrade is not None and self._upgrade.wants(head.headers):
            self._upgrade.take_over(self, head)
            return
        if self._phase is not SERVING:
            self.protocol.close_after_response()  # a TLS connection kept past shutdown serves this one request
        scope = shared.scope_for(head, self.client, self.server)
        self.cycle = cycle = HTTPCycle(scope, self, request_ended=False)
        if shared.is_server_timing:
            # A pipelined request parsed from the buffer counts from now, not from when its bytes came.
            cycle.received_at, self._received_at = self._received_at or cycle.started_at, 0.0
        shared.active_requests += 1
        self.task = task = self.loop.create_task(cycle.run(shared.app))
        # It leaves the set in app_finished, its last step: a done callback would cost a loop callback per request.
        shared.tasks.add(task)

    def _over_body_limit(self, cycle: HTTPCycle, size: int) -> bool:
        """Count body bytes against --limit-request-body (chunked bodies have no length up front)."""
        cycle.received_bytes += size
        refusal = self.shared.policy.body_refusal(cycle.received_bytes)
        if refusal is None:
            return False
        cycle.feed_disconnect()
        self._reject(*refusal)
        return True

    def _reject(self, status: int, message: str, *, head: RequestHead | None = None) -> None:
        """Answer a request the app never sees (or whose app failed to answer), then close (RFC 9112 section 2.2).

        ``head`` is the head of a request refused before it had a cycle; without
        either, the access line says ``-`` (the request never parsed).
        """
        if self.protocol.starts_like_tls and not self.shared.is_tls:
            logger.warning(
                "A client from %s spoke TLS to this port: this server speaks HTTP, not HTTPS. Use http:// URLs (or start asgidev with --https).",
                describe_peer(self.client),
            )
            self.transport.close()
            return
        data = self.protocol.error_response(status, message, self.shared.defaults)
        if data:
            self.write_flow.write(self.transport, data)
        if self.shared.is_access_log:
            line = head_line(head) if head is not None else request_line(self.cycle.scope) if self.cycle is not None else "-"
            log_refusal(line, status, len(data), self.client)
        logger.debug("Rejected request from %s: %d %s", self.client, status, message)
        # Answered: closing must not log the request again as one the client left.
        self.cycle = None
        self.transport.close()

    # -- HTTPChannel: called by the cycle ---------------------------------------------

    def request_body(self, cycle: HTTPCycle) -> None:
        if cycle is not self.cycle:
            return
        if self.protocol.is_waiting_for_100_continue:
            self.write_flow.write(self.transport, self.protocol.continue_response())
            self.deadline.set(self.shared.config.timeout_request_body)
        if self._reading is PAUSED:
            self._reading = PARSING
            self.transport.resume_reading()
            self.deadline.set(self.shared.config.timeout_request_body)

    def write_response(self, cycle: HTTPCycle, head: tuple[int, Headers] | None, body: bytes, *, end: bool) -> None:
        if cycle is not self.cycle or self.transport.is_closing():
            return
        protocol = self.protocol
        try:
            data = b""
            if head is not None:
                if self.shared.is_server_timing:
                    head = (head[0], [*head[1], (timing.HEADER_NAME, timing.header_value(cycle.received_at, cycle.app_called_at))])
                data = protocol.response_head(head[0], head[1], self.shared.defaults, complete_body=body if end else None)
            if body:
                data += protocol.body(body)
            if end:
                data += protocol.end()
        except http11.InvalidResponseError as exc:
            if protocol.is_response_started:
                self.transport.close()
            else:
                cycle.status = 500
                self._reject(500, "Internal Server Error")
            raise RuntimeError(f"ASGI app sent an invalid response: {exc}.") from None
        self.write_flow.write(self.transport, data)
        if end:
            self._response_complete(cycle)

    def wait_writable(self) -> asyncio.Future[None] | None:
        return self.write_flow.wait(self.transport)

    def app_finished(self, cycle: HTTPCycle, exc: BaseException | None) -> None:
        self.shared.active_requests -= 1
        task = asyncio.current_task()  # the request's task: this is its last step
        if task is not None:
            self.shared.tasks.discard(task)
        if exc is not None:
            self._report_app_exception(cycle, exc)
        if cycle.response_state is _RESPONSE_COMPLETE or cycle is not self.cycle or self.transport.is_closing():
            return
        if cycle.take_unsent_head() is not None or cycle.response_state is ResponseState.AWAITING_START:
            if exc is None:
                logger.error("ASGI app returned without completing its response to %s %s.", cycle.scope["method"], cycle.scope["path"])
            cycle.status = 500
            self._reject(500, "Internal Server Error")
        else:
            if exc is None:
                logger.error("ASGI app returned before finishing its response body (more_body was True); closing the connection.")
            self.transport.close()

    def _report_app_exception(self, cycle: HTTPCycle, exc: BaseException) -> None:
        if is_client_disconnect(exc, is_client_gone=cycle.is_disconnected):
            logger.debug("App stopped after the client disconnected: %r", exc)
            return
        report_app_exception(logger, exc, f"{cycle.scope['method']} {cycle.scope['path']}", self.shared.app_exceptions)

    # -- between requests -------------------------------------------------------------

    def _response_complete(self, cycle: HTTPCycle) -> None:
        protocol = self.protocol
        if self.shared.is_access_log:
            # A HEAD (or 204/304) response sends none of the body the app produced.
            log_response(cycle, cycle.body_bytes if protocol.sends_body else 0)
        if not protocol.is_keep_alive_ready:
            # The exchange cannot be followed by another (Connection: close,
            # HTTP/1.0, unread body).
            self.transport.close()
            return
        has_buffered = protocol.start_next_cycle()
        self.cycle = None
        self.task = None
        if self._phase is not SERVING:
            self._close_idle()
            return
        self.deadline.set(self.shared.config.timeout_keep_alive, is_idle=True)
        reading = self._reading
        if reading is PAUSED or reading is HOLDING_PAUSED:
            # Paused for body backpressure or pipelining: the next request may be waiting.
            self.transport.resume_reading()
        self._reading = PARSING
        self._pipelined_bytes = 0
        if has_buffered:
            self._process()

    def _hold(self) -> None:
        """Keep what follows the current request unparsed until its response is done."""
        self._reading = HOLDING_PAUSED if self._reading is PAUSED else HOLDING

    def _pause_reading(self) -> None:  # ConnectionEnding's too
        reading = self._reading
        if reading is PARSING or reading is HOLDING:
            self._reading = PAUSED if reading is PARSING else HOLDING_PAUSED
            self.transport.pause_reading()
            self.deadline.clear()  # the app, not the client, is holding things up

    def _on_write_stall(self) -> None:
        """The client took none of the buffered response for --timeout-write seconds (a slow reader)."""
        logger.info("Client %s read nothing for %gs; closing (slow reader).", describe_peer(self.client), self.shared.config.timeout_write)
        # abort, not close: close would wait for the client to read what is buffered.
        if self.cycle is not None and self.cycle.response_state is not _RESPONSE_COMPLETE:
            self.cycle.feed_disconnect()
        self.transport.abort()

    def _on_timeout(self) -> None:
        """Idle keep-alive ended, or a client was too slow sending its request head or body."""
        cycle = self.cycle
        if cycle is None:
            if self.protocol.has_partial_request:
                limit = self.shared.config.timeout_request_head
                logger.info("Request head from %s not complete within %gs; closing (slow client).", describe_peer(self.client), limit)
                self._reject(408, "Request Timeout: the request head did not arrive in time.")
            else:
                self.transport.close()  # idle keep-alive connection
        elif cycle.request_state is RequestState.RECEIVING:
            limit = self.shared.config.timeout_request_body
            logger.info("Request body from %s stalled for %gs; closing (slow client).", describe_peer(self.client), limit)
            cycle.feed_disconnect()
            if not self.protocol.is_response_started:
                self._reject(408, "Request Timeout: the request body stalled.")
            else:
                self.transport.close()
