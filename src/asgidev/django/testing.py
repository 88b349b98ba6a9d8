"""A live server for Django tests: the project over ASGI, with static files and the test database, on a thread.

The ASGI counterpart of Django's ``LiveServerTestCase`` and pytest-django's
``live_server``. The calling process must already have Django set up
(settings configured, ``django.setup()`` called, test databases created),
as pytest-django or Django's test runner leave it.

The server runs on its own thread and event loop (``serve_in_thread``)
because Django test code is synchronous: a test blocks on its HTTP client
while the server answers. Three things make it a *test* server:

* **Static files** are served through the finders whenever
  ``django.contrib.staticfiles`` is installed, whatever ``DEBUG`` says: the
  test runner turns ``DEBUG`` off, and Django's own live server serves them
  anyway (the rule of ``runserver --insecure``). **Media files** are served
  from ``MEDIA_ROOT`` at ``MEDIA_URL``, as ``LiveServerTestCase`` does
  (Django's own handler for that is WSGI only).
* **The test database is reachable.** Each request's synchronous work (sync
  views, middleware, ORM calls awaited by async views) runs on a worker thread
  of Django's ASGI handler, and Django's connections are per thread. A
  file-based or server database needs nothing: every thread connects to the
  same test database and sees what other connections *committed*. An
  in-memory SQLite database exists only inside its connection, so, as
  ``LiveServerTestCase`` does, the test thread's connection is handed to the
  request threads (see ``_on_test_connections``).
* **The host is allowed**: ``ALLOWED_HOSTS`` gains the bound host while the
  server runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.apps import apps  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]
from django.db import connections  # type: ignore[import-untyped]

from asgidev._types import ASGIApp, Receive, Scope, Send
from asgidev.config import Config
from asgidev.django.static import with_static_files
from asgidev.errors import ConfigError
from asgidev.importer import as_asgi3
from asgidev.testing.embedded import RunningServer, serve_in_thread

# An alias -> DatabaseWrapper map of the test thread's connections that other threads must reuse.
SharedConnections = dict[str, Any]


@contextmanager
def live_server(
    app: ASGIApp | None = None, host: str = "127.0.0.1", port: int = 0, *, static: bool = True, **options: Any
) -> Iterator[RunningServer]:
    """Serve the Django project under test on a thread for the duration of the ``with`` block.

    Call it from the test's thread after the test databases exist. Rows the
    server should see must be committed (a transactional test), except on an
    in-memory SQLite database, whose single connection the server shares.

    Args:
        app: The ASGI app to serve; by default ``settings.ASGI_APPLICATION``
            when set (e.g. a Channels router), else ``get_asgi_application()``.
        host: Address to bind; loopback by default. Added to ``ALLOWED_HOSTS``
            while the server runs.
        port: Port to bind; 0 picks a free one (see ``server.port``).
        static: Serve static files through Django's finders (when
            ``django.contrib.staticfiles`` is installed), whatever ``DEBUG`` is.
        **options: Those of ``asgidev.serve_in_thread`` (``Config`` fields and
            ``raise_app_exceptions``).

    Raises:
        ConfigError: Django is not set up in this process, or an option is invalid.
        AddressInUseError: the port is taken.
    """
    _require_django_ready()
    served = _with_media_files(as_asgi3(app or _project_app(), "the live server's app"))
    served = with_static_files(served, Config(static=static, insecure=True)).app
    shared = _in_memory_connections()
    if shared:
        served = _on_test_connections(served, shared)
    with _allowing_host(host), _sharing_across_threads(shared), serve_in_thread(served, host, port, **options) as server:
        yield server


def _require_django_ready() -> None:
    if not apps.ready:
        raise ConfigError(
            "The Django live server needs Django set up in this process (settings configured, apps loaded).",
            "Set DJANGO_SETTINGS_MODULE, call django.setup() and create the test databases first (pytest-django does all three).",
        )


def _project_app() -> ASGIApp:
    """``settings.ASGI_APPLICATION`` (the Channels convention) when set, else Django's own handler."""
    spec = getattr(settings, "ASGI_APPLICATION", None)
    if isinstance(spec, str):
        from django.utils.module_loading import import_string  # type: ignore[import-untyped]

        return as_asgi3(import_string(spec), spec)
    from django.core.asgi import get_asgi_application  # type: ignore[import-untyped]

    return as_asgi3(get_asgi_application(), "django.core.asgi:get_asgi_application()")


def _with_media_files(app: ASGIApp) -> ASGIApp:
    """``app``, with paths under ``MEDIA_URL`` served from ``MEDIA_ROOT`` (when both are set to a local prefix)."""
    media_url = urlsplit(str(settings.MEDIA_URL or ""))
    if not settings.MEDIA_ROOT or media_url.netloc or media_url.path in ("", "/"):
        return app  # no media, media on another host, or a prefix that would shadow every page
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # type: ignore[import-untyped]
    from django.core.exceptions import SuspiciousFileOperation  # type: ignore[import-untyped]
    from django.http import Http404  # type: ignore[import-untyped]
    from django.views.static import serve  # type: ignore[import-untyped]

    class MediaFilesHandler(ASGIStaticFilesHandler):  # type: ignore[misc]
        """Django's static-files ASGI handler, pointed at MEDIA_URL and MEDIA_ROOT instead of the finders."""

        def get_base_url(self) -> str:
            return str(settings.MEDIA_URL)

        def serve(self, request: Any) -> Any:
            # serve() joins safely; a path that would leave MEDIA_ROOT is simply not found.
            try:
                return serve(request, self.file_path(request.path), document_root=settings.MEDIA_ROOT)
            except SuspiciousFileOperation as exc:
                raise Http404(request.path) from exc

    return MediaFilesHandler(app)


def _in_memory_connections() -> SharedConnections:
    """The calling thread's in-memory SQLite connections: the only way other threads can reach those databases."""
    return {conn.alias: conn for conn in connections.all() if conn.vendor == "sqlite" and conn.is_in_memory_db()}


def _on_test_connections(app: ASGIApp, shared: SharedConnections) -> ASGIApp:
    """``app``, with each request's Django worker thread using the test thread's ``shared`` connections.

    Django's ASGI handler runs a request's synchronous work on the one thread
    that asgiref assigns to the outermost ``ThreadSensitiveContext``; the
    handler opens such a context itself, but an enclosing one takes
    precedence. Opening it here lets us install the connections on that very
    thread before Django uses it.
    """

    def use_shared_connections() -> None:
        for alias, conn in shared.items():
            connections[alias] = conn

    install = sync_to_async(use_shared_connections, thread_sensitive=True)

    async def app_on_test_connections(scope: Scope, receive: Receive, send: Send) -> None:
        async with ThreadSensitiveContext():
            await install()
            await app(scope, receive, send)

    return app_on_test_connections


@contextmanager
def _sharing_across_threads(shared: SharedConnections) -> Iterator[None]:
    """Let the ``shared`` connections be used from the server's threads (Django refuses by default)."""
    for conn in shared.values():
        conn.inc_thread_sharing()
    try:
        yield
    finally:
        for conn in shared.values():
            conn.dec_thread_sharing()


@contextmanager
def _allowing_host(host: str) -> Iterator[None]:
    """``ALLOWED_HOSTS`` plus ``host`` (as a Host header spells it), as ``LiveServerTestCase`` does."""
    from django.test.utils import override_settings  # type: ignore[import-untyped]

    name = f"[{host}]" if ":" in host else host
    with override_settings(ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, name]):
        yield
