"""WebSocket connections: the upgrade from HTTP/1.1 and the ``asyncio.Protocol`` after it.

``WebSocketUpgrade`` is the HTTP connection's ``UpgradeHandler``: it checks the
handshake head the HTTP/1.1 protocol already parsed, builds the scope and switches the transport to a
``WebSocketConnection``, which drives the sans-IO protocol and implements the
channel the ASGI cycle talks to. Timers (keepalive pings, the closing
handshake) and backpressure in both directions live here.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from asgidev._types import Headers, Scope
from asgidev.asgi.http import ClientDisconnectedError
from asgidev.asgi.websocket import ABNORMAL_CLOSURE, AppState, WebSocketCycle
from asgidev.protocols import http11, websocket
from asgidev.protocols.events import RequestHead
from asgidev.server import access_log
from asgidev.server.access_log import ClosedBy
from asgidev.server.app_errors import report_app_exception
from asgidev.server.connection import HTTPConnection
from asgidev.server.shared import ServerShared
from asgidev.server.write_flow import WriteFlow

logger = logging.getLogger(__name__)

# Bytes received but not parsed (before the app accepts, or while it is not
# receiving) before the server stops reading: one socket read's worth.
MAX_UNPARSED_BYTES: Final = 64 * 1024
# How long a peer gets to answer our close frame before we drop the TCP
# connection anyway (RFC 6455 section 7.1.1 lets the server close first).
CLOSE_TIMEOUT_S: Final = 5.0
SERVICE_RESTART: Final = 1012
INTERNAL_ERROR: Final = 1011


class WebSocketUpgrade:
    """The ``UpgradeHandler`` for ``Upgrade: websocket`` requests."""

    def __init__(self, shared: ServerShared) -> None:
        self.shared = shared

    def wants(self, headers: Headers) -> bool:
        return websocket.is_websocket_upgrade(headers)

    def take_over(self, connection: HTTPConnection, head: RequestHead) -> None:
        shared = self.shared
        transport = connection.transport
        try:
            if shared.is_shutting_down:
                raise websocket.HandshakeError(503, "Service Unavailable: the server is shutting down.")
            handshake = websocket.parse_handshake(head.method, head.http_version, head.headers)
        except websocket.HandshakeError as exc:
            data = connection.protocol.error_response(exc.status_code, exc.message, shared.defaults, exc.headers)
            connection.write_flow.write(transport, data)
            if shared.is_access_log:
                access_log.log_websocket_refused(head.target.decode("latin-1"), exc.status_code, exc.message)
            transport.close()
            return
        scope = shared.scope_for(head, connection.client, connection.server, subprotocols=handshake.subprotocols)
        protocol = websocket.WebSocketProtocol(handshake, max_message_bytes=shared.config.ws_max_size)
        ws = WebSocketConnection(shared, transport, connection.protocol, protocol, scope)
        shared.connections.add(ws)
        connection.hand_over()
        transport.set_protocol(ws)
        ws.start(connection.protocol.trailing_data)


class WebSocketConnection(asyncio.Protocol):
    """One upgraded connection: frames in and out, and the channel for its ASGI cycle."""

    def __init__(
        self,
        shared: ServerShared,
        transport: asyncio.Transport,
        http: http11.HTTP11Protocol,
        protocol: websocket.WebSocketProtocol,
        scope: Scope,
    ) -> None:
        self.shared = shared
        self.loop = asyncio.get_running_loop()
        self.transport = transport
        # The HTTP/1.1 protocol that parsed the handshake; it frames denial responses.
        self.http = http
        self.protocol = protocol
        self.cycle = WebSocketCycle(scope, self)
        self.task: asyncio.Task[None] | None = None
        self.write_flow = WriteFlow(self.loop, shared.config.timeout_write, self._on_write_stall)
        # Mirrors the transport: paused while the app's queue is full, the client does not read, or too much is unparsed.
        self._is_reading_paused = False
        self._ping_timer: asyncio.TimerHandle | None = None
        self._pong_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._pings_sent = 0
        # The code the connection ended with and who started ending it, for the access log.
        self._ending: tuple[int, ClosedBy] | None = None

    def start(self, pending: bytes) -> None:
        """Run the app; ``pending`` are bytes read after the handshake request."""
        self.shared.active_requests += 1
        self.task = task = self.loop.create_task(self.cycle.run(self.shared.app))
        self.shared.tasks.add(task)
        task.add_done_callback(self.shared.tasks.discard)
        self.data_received(pending)

    # -- asyncio.Protocol callbacks -------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.protocol.receive_data(data)
        self._process()

    def eof_received(self) -> bool | None:
        return None  # a half-closed WebSocket is a gone one: let asyncio close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._ping_timer, self._pong_timer, self._close_timer):
            if timer is not None:
                timer.cancel()
        self.shared.connection_closed(self)
        cycle = self.cycle
        cycle.feed_disconnect(ABNORMAL_CLOSURE)  # unless a close frame told the app already
        self.write_flow.stop()
        if self.shared.is_access_log and cycle.status == 101:
            code, closed_by = self._ending if self._ending is not None else (cycle.disconnect_code, ClosedBy.CLIENT)
            access_log.log_websocket_closed(cycle.scope, code, closed_by, cycle.started_at)

    def pause_writing(self) -> None:
        self.write_flow.pause()

    def resume_writing(self) -> None:
        self.write_flow.resume()
        self._process()

    # -- reading --------------------------------------------------------------------

    def _process(self) -> None:
        protocol = self.protocol
        cycle = self.cycle
        # Parse only while the app has room and the client reads our pongs.
        while not (cycle.is_full or self.write_flow.is_paused):
            match protocol.next_event():
                case websocket.Message(data=data):
                    cycle.feed_message(data)
                case websocket.PONG:
                    if self._pong_timer is not None:
                        self._pong_timer.cancel()
                        self._pong_timer = None
                case websocket.Closed() as closed:
                    self._ended(closed)
                    return
                case websocket.NEED_DATA:
                    break
        pongs = protocol.data_to_send()
        if pongs:
            self.write_flow.write(self.transport, pongs)
        should_pause = cycle.is_full or self.write_flow.is_paused or protocol.unparsed_bytes > MAX_UNPARSED_BYTES
        if should_pause != self._is_reading_paused and not self.transport.is_closing():
            self._is_reading_paused = should_pause
            if should_pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def _ended(self, closed: websocket.Closed) -> None:
        """The connection is over: flush the last frame, tell the app, drop TCP."""
        if not closed.by_peer:
            logger.info("Closing WebSocket from %s: %s (%d).", self.cycle.scope["client"], closed.reason, closed.code)
        if self._ending is None:
            self._ending = (closed.code, ClosedBy.CLIENT if closed.by_peer else ClosedBy.SERVER)
        data = self.protocol.data_to_send()
        if data and not self.transport.is_closing():
            self.write_flow.write(self.transport, data)
        self.cycle.feed_disconnect(closed.code, closed.reason)
        self.transport.close()

    # -- WebSocketChannel: called by the cycle ---------------------------------------

    def accept(self, cycle: WebSocketCycle, subprotocol: str | None, headers: Headers) -> None:
        if self.transport.is_closing():
            return
        try:
            data = self.protocol.accept(
                subprotocol, self.shared.default_headers(headers), allow_deflate=self.shared.config.ws_per_message_deflate
            )
        except websocket.InvalidAcceptError as exc:
            cycle.app_state = AppState.CLOSED
            self._answer_http(500, "Internal Server Error")
            raise RuntimeError(f"ASGI app sent an invalid 'websocket.accept': {exc}.") from None
        self.write_flow.write(self.transport, data)
        if self.shared.is_access_log:
            access_log.log_websocket_accepted(cycle.scope)
        interval = self.shared.config.ws_ping_interval
        if interval:
            self._ping_timer = self.loop.call_later(interval, self._send_ping)
        if self.shared.is_shutting_down:
            # Shutdown came while the app was deciding: it accepted, so it hears the restart at once.
            self._close(SERVICE_RESTART, "Server restarting")
        self._process()

    def send_message(self, cycle: WebSocketCycle, data: str | bytes) -> None:
        if not self.transport.is_closing():
            self.write_flow.write(self.transport, self.protocol.send_message(data))

    def close(self, cycle: WebSocketCycle, code: int, reason: str) -> None:
        try:
            self._close(code, reason)
        except ValueError as exc:
            self._close(INTERNAL_ERROR, "")
            raise TypeError(f"'code' in 'websocket.close': {exc}.") from None

    def deny(self, cycle: WebSocketCycle, head: tuple[int, Headers] | None, body: bytes, *, end: bool) -> None:
        if self.transport.is_closing():
            return
        self.protocol.reject()
        http = self.http
        try:
            data = b""
            if head is not None:
                data = http.response_head(head[0], head[1], self.shared.defaults, complete_body=body if end else None)
            data += http.body(body)
            if end:
                data += http.end()
        except http11.InvalidResponseError as exc:
            cycle.app_state = AppState.CLOSED
            if http.is_response_started:
                self.transport.close()
            else:
                self._answer_http(500, "Internal Server Error")
            raise RuntimeError(f"ASGI app sent an invalid denial response: {exc}.") from None
        self.write_flow.write(self.transport, data)
        if end:
            if self.shared.is_access_log:
                access_log.log_websocket_denied(cycle.scope, cycle.status, cycle.started_at)
            self.transport.close()

    def resume_receiving(self, cycle: WebSocketCycle) -> None:
        self._process()

    def wait_writable(self) -> asyncio.Future[None] | None:
        return self.write_flow.wait(self.transport)

    def app_finished(self, cycle: WebSocketCycle, exc: BaseException | None) -> None:
        self.shared.active_requests -= 1
        if exc is not None:
            self._report_app_exception(cycle, exc)
        if self.transport.is_closing():
            return
        state = cycle.app_state
        if state is AppState.CONNECTING or (state is AppState.DENYING and cycle.take_unsent_head() is not None):
            if exc is None:
                logger.error("ASGI app returned without accepting or denying the WebSocket %s.", cycle.scope["path"])
            self._answer_http(500, "Internal Server Error")
        elif state is AppState.DENYING:
            if exc is None:
                logger.error("ASGI app returned before finishing its denial response (more_body was True); closing the connection.")
            self.transport.close()
        elif state is AppState.ACCEPTED:
            # Returning without a close is a normal close (as other servers do); raising is 1011.
            self._close(INTERNAL_ERROR if exc is not None else 1000, "")

    def _report_app_exception(self, cycle: WebSocketCycle, exc: BaseException) -> None:
        if isinstance(exc, (ClientDisconnectedError, asyncio.CancelledError)):
            logger.debug("App stopped after the client disconnected: %r", exc)
            return
        report_app_exception(logger, exc, f"WebSocket {cycle.scope['path']}", self.shared.app_exceptions)

    def _answer_http(self, status: int, message: str) -> None:
        """Answer the handshake with an error response, then close."""
        self.protocol.reject()
        self.cycle.status = status
        data = self.http.error_response(status, message, self.shared.defaults)
        if data:
            self.write_flow.write(self.transport, data)
        if self.shared.is_access_log:
            access_log.log_websocket_failed(self.cycle.scope, status)
        self.transport.close()

    # -- closing, keepalive, shutdown --------------------------------------------------

    def _close(self, code: int, reason: str) -> None:
        """Start the closing handshake; the peer's echo (or a timeout) ends the connection."""
        data = self.protocol.close(code, reason)
        if not data or self.transport.is_closing():
            return
        self.write_flow.write(self.transport, data)
        if self._ending is None:
            self._ending = (code, ClosedBy.SERVER)
        if self._close_timer is None:
            self._close_timer = self.loop.call_later(CLOSE_TIMEOUT_S, self._on_close_timeout)

    def _on_close_timeout(self) -> None:
        self._close_timer = None
        logger.debug("WebSocket peer %s did not answer our close frame; dropping the connection.", self.cycle.scope["client"])
        self.transport.close()

    def _on_write_stall(self) -> None:
        logger.info(
            "WebSocket client %s read nothing for %gs; closing (slow reader).", self.cycle.scope["client"], self.shared.config.timeout_write
        )
        if self._ending is None:
            self._ending = (ABNORMAL_CLOSURE, ClosedBy.SERVER)
        self.transport.abort()  # a close frame could not get through either

    def _send_ping(self) -> None:
        config = self.shared.config
        self._ping_timer = self.loop.call_later(config.ws_ping_interval or 0, self._send_ping)
        if self.protocol.state is not websocket.State.OPEN or self._is_reading_paused:
            # Not while the app holds reading back: the pong would sit unread behind its messages.
            return
        self._pings_sent += 1
        self.write_flow.write(self.transport, self.protocol.ping(b"%d" % self._pings_sent))
        if config.ws_ping_timeout and self._pong_timer is None:
            self._pong_timer = self.loop.call_later(config.ws_ping_timeout, self._on_pong_timeout)

    def _on_pong_timeout(self) -> None:
        self._pong_timer = None
        self._close(INTERNAL_ERROR, "keepalive ping timeout")
        self._ended(websocket.Closed(INTERNAL_ERROR, "keepalive ping timeout", by_peer=False))

    def shutdown(self) -> None:
        """Ask the client to reconnect later (1012, service restart); the app gets the grace period to finish."""
        if self.protocol.state is websocket.State.OPEN:
            self._close(SERVICE_RESTART, "Server restarting")

    def abort(self) -> None:
        """Grace period over: close with 1012 and drop the connection."""
        self._close(SERVICE_RESTART, "Server restarting")
        if self._ending is None:
            self._ending = (SERVICE_RESTART, ClosedBy.SERVER)
        self.cycle.feed_disconnect(SERVICE_RESTART, "Server restarting")
        self.transport.close()
