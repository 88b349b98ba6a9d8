"""The one door from the generic runner into Django support.

``runner.load_app`` calls ``adapt_for_django`` when no APP was given (is this
a Django project?) or when the imported app pulled in Django. Django itself is
imported here only once a Django project has been found, so other apps never
import it.
"""

from __future__ import annotations

import os
import sys

from asgidev._types import ASGIApp
from asgidev.config import Config
from asgidev.django.discovery import SETTINGS_ENV, AppChoice, DjangoProject, choose_app, find_project
from asgidev.errors import AppImportError
from asgidev.importer import as_asgi3, format_user_traceback, import_app
from asgidev.loaded_app import LoadedApp


def adapt_for_django(config: Config, loaded: LoadedApp | None, *, in_advance: bool = False) -> LoadedApp | None:
    """Discover a Django project (when ``loaded`` is None) and prepare a Django app to serve.

    Returns None when there is nothing Django about this run: no app was given
    and ``config.app_dir`` is no Django project, so the caller serves its default.
    A non-Django ``loaded`` comes back unchanged. ``in_advance`` leaves the
    URLconf for ``import_urlconf_if_configured`` (a prepared spare's set-up).

    Raises:
        AppImportError: the project's settings or app cannot be imported.
    """
    notes: tuple[str, ...] = ()
    if loaded is None:
        project = find_project(config.app_dir)
        if project is None:
            return None
        loaded, notes = _load_project_app(config, project)
    if not _is_django_configured():
        return loaded
    return _prepare(config, loaded, notes, in_advance)


def import_urlconf_if_configured() -> None:
    """The URLconf import that ``adapt_for_django(in_advance=True)`` left for after GO.

    Raises:
        AppImportError: the URLconf (or a module it imports) raised.
    """
    if _is_django_configured():
        _import_urlconf()


def _load_project_app(config: Config, project: DjangoProject) -> tuple[LoadedApp, tuple[str, ...]]:
    os.environ.setdefault(SETTINGS_ENV, project.settings_module)
    path = str(project.directory)
    if path not in sys.path:
        sys.path.insert(0, path)
    choice = choose_app(project, _read_asgi_application_setting(project))
    notes: tuple[str, ...] = (
        f"Found a Django project: settings {project.settings_module!r} from {project.settings_source}, app from {choice.reason}.",
    )
    if project.manage_py_setup:
        notes += (
            f"Note: manage.py does more than set DJANGO_SETTINGS_MODULE ({project.manage_py_setup}), which bare asgidev does not run; "
            "it reads .env itself (--env-file for other files). For other set-up, run 'manage.py runserver' with asgidev.django installed.",
        )
    if choice.spec is not None:
        return LoadedApp(import_app(choice.spec, path), choice.spec), notes
    return LoadedApp(_default_django_app(choice), "Django's default ASGI handler"), notes


def _read_asgi_application_setting(project: DjangoProject) -> str | None:
    """``settings.ASGI_APPLICATION``; importing settings is where an error in settings.py surfaces."""
    from django.conf import settings  # type: ignore[import-untyped]

    try:
        value = getattr(settings, "ASGI_APPLICATION", None)
    except Exception as exc:
        raise AppImportError(
            f"Importing the settings module {project.settings_module!r} raised {type(exc).__name__}: {exc}",
            "Fix the error in your settings; the traceback shows where it is.",
            user_traceback=format_user_traceback(exc),
        ) from exc
    return value if isinstance(value, str) else None


def _default_django_app(choice: AppChoice) -> ASGIApp:
    from django.core.asgi import get_asgi_application  # type: ignore[import-untyped]

    try:
        return as_asgi3(get_asgi_application(), "django.core.asgi:get_asgi_application()")
    except AppImportError:
        raise
    except Exception as exc:
        raise AppImportError(
            f"Setting up Django raised {type(exc).__name__}: {exc}",
            "Fix the error in your project; the traceback shows where it is.",
            user_traceback=format_user_traceback(exc),
        ) from exc


def _is_django_configured() -> bool:
    """Whether the loaded app set Django up (its settings are configured)."""
    if "django.conf" not in sys.modules:
        return False
    from django.conf import settings

    return bool(settings.configured)


def _prepare(config: Config, loaded: LoadedApp, notes: tuple[str, ...], in_advance: bool) -> LoadedApp:
    """Static files, system checks (run once serving) and the banner lines runserver shows."""
    import functools

    import django  # type: ignore[import-untyped]
    from django.conf import settings

    from asgidev.django.checks import start_checks
    from asgidev.django.static import with_static_files

    if not settings.DEBUG and not settings.ALLOWED_HOSTS:
        # runserver refuses to start; served anyway, every request would be Django's 400.
        raise AppImportError(
            "DEBUG is False and ALLOWED_HOSTS is empty, so Django would refuse every request with 400 Bad Request.",
            "Set ALLOWED_HOSTS in your settings (e.g. ['localhost', '127.0.0.1']), or DEBUG = True.",
        )
    static = with_static_files(loaded.app, config)
    # Before serving, unlike the checks: the first request would import it anyway.
    if not in_advance:
        _import_urlconf()
    settings_module = settings.SETTINGS_MODULE or "settings.configure()"
    lines = [f"Django version {django.get_version()}, using settings {settings_module!r}", *notes]
    if static.banner_line:
        lines.append(static.banner_line)
    return LoadedApp(
        static.app,
        loaded.label,
        (*loaded.banner_lines, *lines),
        _guard_patterns(settings.ALLOWED_HOSTS),
        after_start=functools.partial(start_checks, skip_checks=config.skip_checks),
    )


def _import_urlconf() -> None:
    """Import ROOT_URLCONF now, as the first request would.

    A typo in urls.py, or in a views.py it imports, is then broken code like
    any other: the error page naming the file and line, healed by the next
    save, instead of a bare 500 on every URL and crashed system checks.

    Raises:
        AppImportError: the URLconf (or a module it imports) raised.
    """
    from django.conf import settings
    from django.urls import get_resolver  # type: ignore[import-untyped]

    if not getattr(settings, "ROOT_URLCONF", None):
        return
    try:
        get_resolver().urlconf_module  # noqa: B018 -- a cached property: importing is the point
    except Exception as exc:
        raise AppImportError(
            f"Importing the URLconf {settings.ROOT_URLCONF!r} raised {type(exc).__name__}: {exc}",
            "Fix the error in your code; the traceback shows where it is.",
            user_traceback=format_user_traceback(exc),
        ) from exc


def _guard_patterns(allowed_hosts: list[str]) -> tuple[str, ...]:
    """Django's ALLOWED_HOSTS as host-guard patterns (".example.com" covers the domain and its subdomains)."""
    patterns: list[str] = []
    for host in allowed_hosts:
        if host.startswith("."):
            patterns += [host[1:], "*" + host]
        elif host:
            patterns.append(host)
    return tuple(patterns)
