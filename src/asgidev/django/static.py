"""Serve static files as ``runserver`` does: through Django's finders, no ``collectstatic``.

The rule is ``django.contrib.staticfiles``' runserver's: with the app
installed, wrap the handler when ``DEBUG`` is on (or ``--insecure``), unless
``--nostatic``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]

from asgidev._types import ASGIApp
from asgidev.config import Config

STATICFILES_APP = "django.contrib.staticfiles"


@dataclass(frozen=True)
class StaticServing:
    """The app, wrapped or not, and a line for the banner saying which and why."""

    app: ASGIApp
    banner_line: str


def with_static_files(app: ASGIApp, config: Config) -> StaticServing:
    """``app`` wrapped in Django's ``ASGIStaticFilesHandler`` when runserver would serve static files."""
    if not apps.is_installed(STATICFILES_APP):
        return StaticServing(app, "")
    if not config.static:
        return StaticServing(app, "Static files: not served (--nostatic).")
    if not (settings.DEBUG or config.insecure):
        return StaticServing(app, "Static files: not served because DEBUG is False (use --insecure to serve them anyway).")
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # type: ignore[import-untyped]

    # The handler only answers paths under STATIC_URL and passes every other
    # scope (other paths, WebSockets, lifespan) to the wrapped app.
    wrapped: ASGIApp = ASGIStaticFilesHandler(app)
    return StaticServing(wrapped, f"Static files: served at {settings.STATIC_URL} from Django's finders.")
