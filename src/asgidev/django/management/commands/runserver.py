"""``manage.py runserver``, run by asgidev when ``asgidev.django`` is in ``INSTALLED_APPS``.

Accepts runserver's arguments (``addrport``, ``-6``, ``--noreload``,
``--nostatic``, ``--insecure``, ``--skip-checks``; ``--nothreading`` is
accepted and ignored, every request already runs concurrently) plus one
option per asgidev setting (``--lifespan``, ``--reload-dir``, ...).
"""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path
from typing import Any

from django.conf import settings  # type: ignore[import-untyped]
from django.core.management.base import BaseCommand, CommandError  # type: ignore[import-untyped]

from asgidev.django.discovery import DjangoProject, choose_app
from asgidev.django.options import add_config_arguments, config_fields_from_options
from asgidev.errors import AppImportError, AsgidevError
from asgidev.sources import read_layers

# SQLite writes these beside the database; none of them is code.
SQLITE_SUFFIXES = ("", "-journal", "-wal", "-shm")


class Command(BaseCommand):  # type: ignore[misc]
    help = "Starts asgidev, an ASGI development server, in place of Django's runserver."
    requires_system_checks: list[str] = []  # run by asgidev at start and after each reload
    suppressed_base_arguments = {"--verbosity", "--traceback"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("addrport", nargs="?", help="Optional port number, or ipaddr:port.")
        parser.add_argument("--ipv6", "-6", action="store_true", dest="use_ipv6", help="Use an IPv6 address.")
        parser.add_argument(
            "--nothreading", action="store_false", dest="use_threading", help="Accepted for runserver compatibility; ignored."
        )
        parser.add_argument("--noreload", action="store_false", dest="use_reloader", help="Do not restart the server when code changes.")
        parser.add_argument("--nostatic", action="store_false", dest="use_static_handler", help="Do not serve static files at STATIC_URL.")
        parser.add_argument("--insecure", action="store_true", dest="insecure_serving", help="Serve static files even if DEBUG is False.")
        parser.add_argument("--skip-checks", action="store_true", help="Skip system checks.")
        add_config_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG and not settings.ALLOWED_HOSTS:
            raise CommandError("You must set settings.ALLOWED_HOSTS if DEBUG is False.")
        # Imported here: cli.py is the only module importing typer, and Django
        # loads every command module just to list commands.
        from asgidev.cli import build_config, start

        fields = config_fields_from_options(options)
        project_dir = _project_dir(settings.SETTINGS_MODULE)
        choice = choose_app(
            DjangoProject(Path(project_dir), settings.SETTINGS_MODULE, "manage.py"), getattr(settings, "ASGI_APPLICATION", None)
        )
        fields.update(app=choice.spec, app_dir=project_dir)
        # runserver's switches count only when given, so ASGIDEV_RELOAD or [tool.asgidev] can set them too.
        for name, is_given, value in (
            ("ipv6", options["use_ipv6"], True),
            ("reload", not options["use_reloader"], False),
            ("static", not options["use_static_handler"], False),
            ("insecure", options["insecure_serving"], True),
            ("skip_checks", options["skip_checks"], True),
        ):
            if is_given:
                fields[name] = value
        try:
            layers = read_layers(os.environ, Path.cwd())
            excludes = fields.get("reload_excludes", layers.merged({}).get("reload_excludes", ()))
            fields["reload_excludes"] = (*excludes, *_data_file_patterns(Path(project_dir)))
            config = build_config(fields, addrport=options["addrport"], layers=layers)
            code = start(config)
        except AppImportError as exc:
            raise CommandError(f"{exc}\n{exc.user_traceback}".rstrip()) from None
        except AsgidevError as exc:
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            code = 0
        if code:
            raise CommandError(f"asgidev exited with status {code}.", returncode=code)


def _project_dir(settings_module: str) -> str:
    """The directory the settings module imports from (where manage.py usually is)."""
    path = Path(importlib.import_module(settings_module).__file__ or ".").resolve()
    if path.name == "__init__.py":  # a settings package: mysite/settings/__init__.py
        path = path.parent
    for _ in range(settings_module.count(".") + 1):
        path = path.parent
    return str(path)


def _data_file_patterns(project_dir: Path) -> tuple[str, ...]:
    """Reload-exclude globs (relative to the watched project) for what the site writes: SQLite files, MEDIA_ROOT.

    Files outside the project are not watched, so they need no pattern.
    """
    paths: list[str] = []
    for database in settings.DATABASES.values():
        name = str(database.get("NAME") or "")
        if database.get("ENGINE", "").endswith("sqlite3") and name and name != ":memory:":
            paths += [f"{name}{suffix}" for suffix in SQLITE_SUFFIXES]
    if settings.MEDIA_ROOT:
        paths.append(f"{settings.MEDIA_ROOT}/*")
    patterns = []
    for path in paths:
        try:
            patterns.append((project_dir / path).resolve().relative_to(project_dir.resolve()).as_posix())
        except ValueError:
            continue
    return tuple(patterns)
