"""Run the server in this process: load the app, serve on given sockets until a signal.

Used by ``asgidev --no-reload`` and by each reload worker. Owns the process,
so it installs signal handlers (the embedding API does not).
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass

from asgidev import event_loop
from asgidev._types import ASGIApp
from asgidev.app_discovery import discover_app
from asgidev.builtin_apps import welcome_app
from asgidev.config import Config
from asgidev.importer import resolve_app
from asgidev.server.server import Server
from asgidev.server.signals import install_loop_error_handler, install_shutdown_handlers

logger = logging.getLogger(__name__)

WELCOME_LABEL = "the built-in welcome page (no APP given)"


@dataclass(frozen=True)
class LoadedApp:
    """The app to serve, how the banner names it, and extra banner lines (e.g. Django's version)."""

    app: ASGIApp
    label: str
    banner_lines: tuple[str, ...] = ()
    # Host names the app itself declares valid (Django's ALLOWED_HOSTS), added to the host guard's list.
    allowed_hosts: tuple[str, ...] = ()
    # Run once the server serves (Django's system checks): work a developer wants
    # to see, but not between a save and the first response.
    after_start: Callable[[], object] | None = None

    def configure(self, config: Config) -> Config:
        """``config`` with what the app declares (its allowed hosts) folded in."""
        if not self.allowed_hosts:
            return config
        return config.replace(allowed_hosts=(*config.allowed_hosts, *self.allowed_hosts))


def load_app(config: Config) -> LoadedApp:
    """Import the app the configuration names, else a discovered Django project's or ``main.py``'s, else the welcome page.

    Django apps come back wrapped for static files, with system checks to run
    once serving and Django's lines added to the banner (see ``asgidev.django.integration``).

    Raises:
        AppImportError: the user's app cannot be imported.
    """
    # Imported only when needed, so apps of other frameworks never import Django.
    from asgidev.django.integration import adapt_for_django

    if config.app is None:
        loaded = adapt_for_django(config, None)  # a Django project directory?
        if loaded is not None:
            return loaded
        found = discover_app(config.app_dir)
        if found is None:
            return LoadedApp(welcome_app, WELCOME_LABEL)
        loaded = _import(found.spec, config, f"No APP given: found {found.spec} in {found.filename}.")
    else:
        loaded = _import(config.app, config)
    if "django" in sys.modules:
        return adapt_for_django(config, loaded) or loaded
    return loaded


def _import(spec: str, config: Config, *notes: str) -> LoadedApp:
    imported = resolve_app(spec, config.app_dir, factory=config.factory)
    return LoadedApp(imported.app, imported.spec, (*notes, *imported.notes))


def serve_sockets(
    config: Config,
    app: ASGIApp,
    sockets: list[socket.socket],
    *,
    on_started: Callable[[Server], None] | None = None,
) -> None:
    """Serve ``app`` on ``sockets`` until SIGINT/SIGTERM.

    Raises:
        LifespanStartupError: the app's lifespan startup failed.
    """

    async def main() -> None:
        server = Server(config, app, sockets)
        install_shutdown_handlers(server.request_shutdown)
        install_loop_error_handler()
        await server.start()
        if on_started is not None:
            on_started(server)
        try:
            await server.wait_shutdown_requested()
        finally:
            await server.shutdown()

    event_loop.run(main(), config.loop)
