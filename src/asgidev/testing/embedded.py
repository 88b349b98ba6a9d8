"""Start a real asgidev server inside a test: ``async with serve(app) as server``.

The server runs on the caller's asyncio loop (directly, or under anyio's
asyncio backend) and never touches signal handlers or logging configuration,
so several can run at once in one process. ``serve_in_thread`` is the
blocking twin for synchronous tests and browser automation. Trio is not
supported by ``serve`` (the server is built on asyncio); trio tests can use
``serve_in_thread``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

from asgidev import event_loop
from asgidev._types import ASGIApp
from asgidev.config import Config
from asgidev.errors import ConfigError, LifespanStartupError
from asgidev.importer import as_asgi3
from asgidev.server.server import Server
from asgidev.sockets import bind_sockets

# How long serve_in_thread waits for its server thread to start or stop.
THREAD_START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class RunningServer:
    """A listening server: where to reach it, and the server object itself."""

    host: str
    port: int
    url: str
    ws_url: str
    server: Server

    @property
    def app_exceptions(self) -> list[BaseException]:
        """Exceptions the app raised while serving, in order."""
        return list(self.server.shared.app_exceptions) if self.server.shared else []


def make_config(host: str, port: int, options: dict[str, Any]) -> Config:
    """The Config for an embedded server: CLI names and validation, reload off.

    Raises:
        ConfigError: an unknown option or invalid value.
    """
    if options.get("reload"):
        raise ConfigError("serve() runs in-process; reload is not available here.", "Drop reload=True.")
    return Config(reload=False).replace(host=host, port=port, **options)


@asynccontextmanager
async def serve(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, raise_app_exceptions: bool = True, **options: Any
) -> AsyncIterator[RunningServer]:
    """Serve ``app`` on a real socket for the duration of the ``async with`` block.

    Returns once the server is listening and lifespan startup has completed.
    On exit, the server stops gracefully (``timeout_graceful_shutdown``) and
    runs lifespan shutdown.

    Args:
        app: An ASGI 3 (or ASGI 2) application.
        host: Address to bind; loopback by default.
        port: Port to bind; 0 picks a free one (see ``server.port``).
        raise_app_exceptions: Re-raise the first exception the app raised
            while serving at the end of the block, instead of only logging it.
        **options: Any ``asgidev.config.Config`` field, as on the command line
            (``loop`` cannot choose the caller's loop: ``loop="uvloop"`` only checks it).

    Raises:
        ConfigError: an unknown option or invalid value.
        AddressInUseError: the port is taken.
        Exception: the app's own exception when its lifespan startup fails.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError("asgidev.serve() needs an asyncio event loop; under trio use asgidev.serve_in_thread().") from None
    config = make_config(host, port, options)
    if config.loop == "uvloop" and event_loop.loop_name(asyncio.get_running_loop()) != "uvloop":
        raise ConfigError(
            "serve() runs on the caller's event loop, which is not uvloop.", "Run the test on uvloop, or use serve_in_thread()."
        )
    sockets = bind_sockets(config)
    try:
        server = Server(config, as_asgi3(app, repr(app)), sockets)
        async with contextlib.AsyncExitStack() as running:
            try:
                await running.enter_async_context(server.running())
            except LifespanStartupError as exc:
                raise server.lifespan.app_exception or exc from None
            yield _describe(server, sockets[0])
    finally:
        for sock in sockets:
            sock.close()
    if raise_app_exceptions and server.shared is not None and server.shared.app_exceptions:
        raise server.shared.app_exceptions[0]


def _describe(server: Server, sock: socket.socket) -> RunningServer:
    if sock.family == getattr(socket, "AF_UNIX", None):
        path = str(sock.getsockname())
        return RunningServer(host=path, port=0, url=f"http+unix://{path}", ws_url=f"ws+unix://{path}", server=server)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    scheme = "https" if server.ssl_context is not None else "http"
    ws_scheme = "wss" if scheme == "https" else "ws"
    return RunningServer(host=host, port=port, url=f"{scheme}://{shown}:{port}", ws_url=f"{ws_scheme}://{shown}:{port}", server=server)


@contextmanager
def serve_in_thread(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, raise_app_exceptions: bool = True, **options: Any
) -> Iterator[RunningServer]:
    """The blocking twin of ``serve``: the server runs on its own loop in a thread.

    For synchronous tests, Playwright and Selenium. Same arguments and errors as ``serve``;
    the thread's loop is the one ``loop`` names (default ``auto``: uvloop when installed).
    """
    # This server owns its loop, so it runs the one --loop names (uvloop when installed, by default).
    choice = make_config(host, port, options).loop
    started = threading.Event()
    result: dict[str, Any] = {}
    stop: asyncio.Event | None = None
    loop_holder: list[asyncio.AbstractEventLoop] = []

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        loop_holder.append(asyncio.get_running_loop())
        try:
            async with serve(app, host, port, raise_app_exceptions=raise_app_exceptions, **options) as running:
                result["server"] = running
                started.set()
                await stop.wait()
        except BaseException as exc:
            result["error"] = exc
        finally:
            started.set()

    thread = threading.Thread(target=event_loop.run, args=(main(), choice), name="asgidev-server", daemon=True)
    thread.start()
    if not started.wait(THREAD_START_TIMEOUT_S):
        raise TimeoutError("asgidev server thread did not start in time")
    if "error" in result:
        thread.join()
        raise result["error"]
    try:
        yield result["server"]
    finally:
        assert stop is not None
        loop_holder[0].call_soon_threadsafe(stop.set)
        thread.join()
    if "error" in result:
        raise result["error"]
