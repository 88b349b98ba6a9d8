"""Serve in this process: load the app, then ``serve`` it until asked to stop.

``serve`` is the one lifecycle of a process that serves (``asgidev
--no-reload`` and each reload worker): the app wrapped for live reload and
traceback pages, the server started (``Server.running``, the path the
embedding API takes too), the banner, the app's after-start work, serving
until a stop request, graceful shutdown, the exit. What the two processes do
differently (who may stop them, whom they tell that they serve) is their
``Owner``'s. Owning the process, they install signal handlers; the embedding
API never does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from typing import TYPE_CHECKING

from asgidev import event_loop
from asgidev._types import ASGIApp
from asgidev.app_discovery import discover_app
from asgidev.app_threads import exit_if_app_threads
from asgidev.builtin_apps import broken_code_app, welcome_app
from asgidev.config import Config
from asgidev.errors import LifespanStartupError
from asgidev.gc_pause import collector_paused
from asgidev.importer import resolve_app
from asgidev.loaded_app import LoadedApp
from asgidev.log import keeping_own_loggers
from asgidev.server.server import Server
from asgidev.server.shared import Handoff
from asgidev.server.signals import install_loop_error_handler, install_shutdown_handlers
from asgidev.tracebacks.middleware import wrap as traceback_pages

if TYPE_CHECKING:
    from asgidev.livereload.middleware import LiveReload

logger = logging.getLogger(__name__)

WELCOME_LABEL = "the built-in welcome page (no APP given)"


def load_app(config: Config, *, in_advance: bool = False) -> LoadedApp:
    """Import the app the configuration names, else a discovered Django project's or ``main.py``'s, else the welcome page.

    ``in_advance``: a prepared spare runs the app's set-up before the change
    that needs it arrives (see ``supervisor/prepared.py``), so the part most
    likely to be edited, Django's URLconf and the views it imports, is left
    for ``finish_load`` after GO.

    Django apps come back wrapped for static files, with system checks to run
    once serving and Django's lines added to the banner (see ``asgidev.django.integration``).
    A logging set-up the app does at import leaves asgidev's own loggers alone (``log.keeping_own_loggers``),
    and the cyclic garbage collector waits until the app has loaded (``gc_pause``).

    Raises:
        AppImportError: the user's app cannot be imported.
    """
    with keeping_own_loggers(), collector_paused():
        return _load(config, in_advance)


def finish_load(loaded: LoadedApp) -> LoadedApp:
    """What ``load_app(in_advance=True)`` left undone: Django's URLconf.

    Raises:
        AppImportError: the URLconf (or a module it imports) raised.
    """
    if "django" in sys.modules:
        from asgidev.django.integration import import_urlconf_if_configured

        with keeping_own_loggers(), collector_paused():
            import_urlconf_if_configured()
    return loaded


def _load(config: Config, in_advance: bool) -> LoadedApp:
    # Imported only when needed, so apps of other frameworks never import Django.
    from asgidev.django.integration import adapt_for_django

    if config.app is None:
        loaded = adapt_for_django(config, None, in_advance=in_advance)  # a Django project directory?
        if loaded is not None:
            return loaded
        found = discover_app(config.app_dir)
        if found is None:
            return LoadedApp(welcome_app, WELCOME_LABEL)
        loaded = _import(found.spec, config, f"No APP given: found {found.spec} in {found.filename}.")
    else:
        loaded = _import(config.app, config)
    if "django" in sys.modules:
        return adapt_for_django(config, loaded, in_advance=in_advance) or loaded
    return loaded


def _import(spec: str, config: Config, *notes: str) -> LoadedApp:
    imported = resolve_app(spec, config.app_dir, factory=config.factory)
    return LoadedApp(imported.app, imported.spec, (*notes, *imported.notes))


class Owner:
    """The process that serves: what it adds at the steps of ``serve``. This one is ``asgidev --no-reload``'s."""

    # A save restarts this process (it is a reload worker): the banner says so,
    # and an app whose lifespan startup fails is served as an error page until
    # the fix, instead of ending the process.
    is_reloading = False
    print_banner = True
    # Where idle connections go on shutdown instead of being closed (a reload worker's next worker).
    handoff: Handoff | None = None

    def before_start(self, server: Server) -> None:
        """Before lifespan startup: Ctrl+C, SIGTERM and a hang-up stop ``server`` (a second Ctrl+C at once)."""
        install_shutdown_handlers(server.request_shutdown)
        install_loop_error_handler()

    def on_serving(self, server: Server, live: LiveReload | None, loaded: LoadedApp) -> None:
        """``server`` accepts connections, serving ``loaded``; called before the banner."""

    def before_shutdown(self) -> None:
        """A stop was requested (or serving failed); the server still serves."""

    async def after_shutdown(self) -> None:
        """The server has shut down (or never started)."""


def serve(config: Config, loaded: LoadedApp, sockets: list[socket.socket], owner: Owner) -> None:
    """Serve ``loaded`` on ``sockets`` until ``owner`` stops the server, then exit if the app left threads running.

    Raises:
        LifespanStartupError: the app's lifespan startup failed (unless ``owner.is_reloading``).
    """
    event_loop.run(_serve(loaded.configure(config), loaded, sockets, owner), config.loop)
    # Served and shut down: threads the app left running must not keep this process alive.
    exit_if_app_threads(0)


async def _serve(config: Config, loaded: LoadedApp, sockets: list[socket.socket], owner: Owner) -> None:
    try:
        async with contextlib.AsyncExitStack() as serving:
            server, live, loaded = await _start(serving, config, loaded, sockets, owner)
            owner.on_serving(server, live, loaded)
            if owner.print_banner:
                _print_banner(config, loaded, sockets, is_reloading=owner.is_reloading)
            if loaded.problem:
                # After the banner, so the last thing on the screen says what is wrong.
                logger.error("%s", loaded.problem)
            if loaded.after_start is not None:
                loaded.after_start()
            try:
                await server.wait_shutdown_requested()
            finally:
                owner.before_shutdown()
    finally:
        await owner.after_shutdown()


async def _start(
    serving: contextlib.AsyncExitStack, config: Config, loaded: LoadedApp, sockets: list[socket.socket], owner: Owner
) -> tuple[Server, LiveReload | None, LoadedApp]:
    """The server ``serving`` shuts down, started with ``loaded``, or with the error page if its lifespan startup failed while reloading."""
    live = _live_reload(loaded.app, config)
    server = Server(config, traceback_pages(loaded.app, config, sockets, live), sockets, handoff=owner.handoff)
    owner.before_start(server)
    try:
        return await serving.enter_async_context(server.running()), live, loaded
    except LifespanStartupError as exc:
        if not owner.is_reloading:
            raise
        details = exc.details or _traceback_of(server.lifespan.app_exception)
        page = broken_code_app("The app's startup failed", exc.message, details, exc.hint)
        problem = f"{exc}\n{details.rstrip()}" if details else str(exc)
    loaded = LoadedApp(page, loaded.label, is_error_page=True, problem=problem)
    live = _live_reload(page, config)
    server = Server(config.replace(lifespan="off"), live or page, sockets, handoff=owner.handoff)
    return await serving.enter_async_context(server.running()), live, loaded


def _live_reload(app: ASGIApp, config: Config) -> LiveReload | None:
    """``app`` wrapped for --live-reload (imported only when it is on), its pages tagged with this process's generation."""
    if not config.live_reload:
        return None
    from asgidev.livereload.middleware import wrap

    return wrap(app, config, generation=str(os.getpid()))


def _traceback_of(exc: BaseException | None) -> str:
    if exc is None:
        return ""
    from asgidev.importer import format_user_traceback

    return format_user_traceback(exc)


def _print_banner(config: Config, loaded: LoadedApp, sockets: list[socket.socket], *, is_reloading: bool) -> None:
    from asgidev.console import startup_banner

    sys.stdout.write(
        startup_banner(config, app_label=loaded.label, sockets=sockets, is_reloading=is_reloading, extra_lines=loaded.banner_lines)
    )
    sys.stdout.flush()
