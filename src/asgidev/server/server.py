"""The server: lifespan, listeners on already-bound sockets, graceful shutdown.

Binding belongs to ``sockets.py`` (or to the supervisor, which binds once and
hands sockets to workers); the server only listens on what it is given.
Signals belong to whoever owns the process (``server/signals.py``), never here.
``Server.running`` is the one start → serve → shut down path: the embedding
API uses it directly, the CLI's ``--no-reload`` and each reload worker through
``runner.serve``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from asgidev._types import ASGIApp, Headers
from asgidev.asgi.lifespan import Lifespan
from asgidev.config import Config
from asgidev.host_guard import HostGuard, is_loopback_bind
from asgidev.protocols.events import RequestHead
from asgidev.server.connection import HTTPConnection, UpgradeHandler
from asgidev.server.shared import Handoff, ServerShared
from asgidev.server.timing import is_server_timing_on
from asgidev.sockets import LISTEN_BACKLOG
from asgidev.tls import build_ssl_context

logger = logging.getLogger(__name__)

# Loop iterations between asyncio accepting a socket and our protocol seeing it.
ACCEPT_SETTLE_ITERATIONS = 4
# How long a replaced worker waits for TLS handshakes of connections it accepted (loopback: milliseconds).
TLS_HANDSHAKE_GRACE_S = 0.2
# After the graceful period, how long cancelled app tasks get to unwind.
CANCEL_GRACE_S = 1.0


class Phase(enum.Enum):
    """Where a Server is in its one lifecycle; it only moves forward."""

    NEW = enum.auto()  # constructed: start() → STARTING
    STARTING = enum.auto()  # lifespan startup, then the listeners: → SERVING, or the start failed
    SERVING = enum.auto()  # accepting connections: shutdown() → STOPPING
    STOPPING = enum.auto()  # draining the connections, then lifespan shutdown: → STOPPED
    STOPPED = enum.auto()  # a shutdown() called again returns at once


class Server:
    """Serves one ASGI app on the given listening sockets until ``request_shutdown``."""

    def __init__(
        self,
        config: Config,
        app: ASGIApp,
        sockets: list[socket.socket],
        ssl_context: ssl.SSLContext | None = None,
        *,
        handoff: Handoff | None = None,
    ) -> None:
        self.config = config
        self.app = app
        self.sockets = sockets
        self.ssl_context = ssl_context if ssl_context is not None else build_ssl_context(config)
        self.lifespan = Lifespan(app, config.lifespan)
        # Built by start(): the lifespan state every scope carries is known only after lifespan startup.
        self.shared: ServerShared | None = None
        self.phase = Phase.NEW
        self._handoff = handoff
        self._listeners: list[asyncio.Server] = []
        self._upgrade: LazyWebSocketUpgrade | None = None
        self._shutdown_requested = asyncio.Event()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Server]:
        """Serve inside the ``async with`` block: started on entry, shut down gracefully on the way out.

        Raises:
            LifespanStartupError: the app's startup failed (nothing was left listening).
        """
        await self.start()
        try:
            yield self
        finally:
            await self.shutdown()

    async def start(self) -> None:
        """Run lifespan startup and begin accepting connections.

        Raises:
            LifespanStartupError: the app's startup failed.
        """
        assert self.phase is Phase.NEW, "start() twice"
        self.phase = Phase.STARTING
        await self.lifespan.startup()
        is_loopback = is_loopback_bind(self.sockets)
        shared = ServerShared(
            self.config,
            self.app,
            self.lifespan.state if self.lifespan.is_supported else None,
            is_tls=self.ssl_context is not None,
            host_guard=HostGuard(self.config.allowed_hosts, is_active=is_loopback),
            is_server_timing=is_server_timing_on(self.config, is_loopback_bind=is_loopback),
            handoff=self._handoff,
        )
        self.shared = shared
        loop = asyncio.get_running_loop()
        self._upgrade = upgrade = LazyWebSocketUpgrade(shared)
        try:
            for sock in self.sockets:
                listener = await loop.create_server(
                    lambda: HTTPConnection(shared, upgrade), sock=sock, backlog=LISTEN_BACKLOG, ssl=self.ssl_context
                )
                self._listeners.append(listener)
        except BaseException:
            self._close_listeners()  # a start either serves or leaves nothing listening
            raise
        self.phase = Phase.SERVING

    async def adopt_connection(self, sock: socket.socket, pending: bytes) -> None:
        """Serve a client connection another worker handed over, with bytes it had already read."""
        assert self.shared is not None, "adopt_connection() before start()"
        shared = self.shared
        await asyncio.get_running_loop().connect_accepted_socket(
            lambda: HTTPConnection(shared, self._upgrade, pending), sock, ssl=self.ssl_context
        )

    async def wait_shutdown_requested(self) -> None:
        """Return once ``request_shutdown`` has been called."""
        await self._shutdown_requested.wait()

    def request_shutdown(self) -> None:
        """Ask whoever serves (``runner.serve``, a test) to shut the server down; safe to call more than once."""
        self._shutdown_requested.set()

    def stop_accepting(self) -> None:
        """Take no new connections: they wait in the listen queue for whoever else listens (a new worker).

        Only the accept readers go here; the listeners are closed once the
        connections already accepted have reached their protocol (``shutdown``).
        asyncio attaches each accepted connection to its listener a loop turn
        later and loses it silently if the listener was closed meanwhile: its
        socket would stay open with the request unread until this process
        exits, and the client would see a reset.
        """
        loop = asyncio.get_running_loop()
        for listener in self._listeners:
            for sock in listener.sockets:
                loop.remove_reader(sock.fileno())

    def _close_listeners(self) -> None:
        for listener in self._listeners:
            listener.close()
        self._listeners.clear()

    async def shutdown(self) -> None:
        """Stop accepting, let in-flight requests finish within the graceful timeout, then close the rest."""
        if self.phase in (Phase.STOPPING, Phase.STOPPED):
            return
        self.phase = Phase.STOPPING
        self.stop_accepting()
        shared = self.shared
        try:
            if shared is not None:
                shared.is_shutting_down = True
                # Connections asyncio accepted just before get their protocol a few
                # loop iterations later; let them arrive, so they are handed on
                # rather than dropped, before the listeners close (see stop_accepting).
                for _ in range(ACCEPT_SETTLE_ITERATIONS):
                    await asyncio.sleep(0)
        finally:
            self._close_listeners()  # even if cancelled meanwhile: the port must not stay bound
        if shared is not None:
            for connection in list(shared.connections):
                connection.shutdown()
            if self.ssl_context is not None and shared.handoff is not None:
                # Being replaced by a new worker: TLS connections accepted just
                # before reach the server only after their handshake, a round
                # trip later, and cannot be passed on; wait for them to arrive
                # and be answered here.
                await asyncio.sleep(TLS_HANDSHAKE_GRACE_S)
            if shared.connections:
                shared.drained.clear()
            else:
                shared.drained.set()
            timeout = self.config.timeout_graceful_shutdown
            try:
                await asyncio.wait_for(shared.drained.wait(), timeout)
            except TimeoutError:
                logger.info("Graceful shutdown: closing %d connection(s) still open after %gs.", len(shared.connections), timeout)
            for connection in list(shared.connections):
                connection.abort()
            await _finish_tasks(shared.tasks)
        await self.lifespan.shutdown()
        self.phase = Phase.STOPPED


async def _finish_tasks(tasks: set[asyncio.Task[None]]) -> None:
    """Give app tasks still running a moment to see the disconnect, then cancel them."""
    if not tasks:
        return
    _, pending = await asyncio.wait(set(tasks), timeout=CANCEL_GRACE_S / 2)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=CANCEL_GRACE_S / 2)


class LazyWebSocketUpgrade:
    """The WebSocket upgrade handler, imported on the first Upgrade request.

    wsproto and the WebSocket modules cost a good part of a worker's start-up;
    apps that never see a WebSocket never pay it.
    """

    def __init__(self, shared: ServerShared) -> None:
        self.shared = shared
        self._handler: UpgradeHandler | None = None

    def _get(self) -> UpgradeHandler:
        if self._handler is None:
            from asgidev.server.websocket import WebSocketUpgrade

            self._handler = WebSocketUpgrade(self.shared)
        return self._handler

    def wants(self, headers: Headers) -> bool:
        return self._get().wants(headers)

    def take_over(self, connection: HTTPConnection, head: RequestHead) -> None:
        self._get().take_over(connection, head)
