"""Run the server in this process: load the app, serve on given sockets until a signal.

Used by ``asgidev --no-reload`` and by each reload worker. Owns the process,
so it installs signal handlers (the embedding API does not).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

from asgidev._types import ASGIApp
from asgidev.builtin_apps import welcome_app
from asgidev.config import Config
from asgidev.importer import import_app
from asgidev.server.server import Server
from asgidev.server.signals import install_shutdown_handlers

logger = logging.getLogger(__name__)

WELCOME_LABEL = "the built-in welcome page (no APP given)"


@dataclass(frozen=True)
class LoadedApp:
    """The app to serve, how the banner names it, and extra banner lines (e.g. Django's version)."""

    app: ASGIApp
    label: str
    banner_lines: tuple[str, ...] = ()


def load_app(config: Config) -> LoadedApp:
    """Import the app the configuration names (or the welcome page).

    Raises:
        AppImportError: the user's app cannot be imported.
    """
    if config.app is None:
        return LoadedApp(welcome_app, WELCOME_LABEL)
    return LoadedApp(import_app(config.app, config.app_dir, factory=config.factory), config.app)


def serve_sockets(
    config: Config,
    app: ASGIApp,
    sockets: list[socket.socket],
    *,
    on_started: Callable[[Server], None] | None = None,
    install_stop: Callable[[Server], None] | None = None,
) -> None:
    """Serve ``app`` on ``sockets`` until SIGINT/SIGTERM (or ``install_stop``'s trigger).

    Raises:
        LifespanStartupError: the app's lifespan startup failed.
    """

    async def main() -> None:
        server = Server(config, app, sockets)
        install_shutdown_handlers(server.request_shutdown)
        if install_stop is not None:
            install_stop(server)
        await server.start()
        if on_started is not None:
            on_started(server)
        try:
            await server.wait_shutdown_requested()
        finally:
            await server.shutdown()

    asyncio.run(main())
