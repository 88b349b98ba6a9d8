"""``manage.py runserver`` becomes ``asgidev``: the process is replaced by the same supervisor bare ``asgidev`` runs.

As early as it can, so the manage.py process never keeps the project loaded
(the supervisor never imports the user's code) and a broken ``models.py`` at
start can never make Django fall back to its own server:

* **Before ``django.setup()`` has imported any models**: Django creates
  ``asgidev.django``'s app config while it imports the apps of
  ``INSTALLED_APPS`` (``AsgidevConfig.__init__``), before any ``models.py``.
  When ``manage.py runserver`` from the command line is what is running, the
  process is replaced there and then (``early_handover.hand_over_early``).
* **Otherwise** (``call_command("runserver")``, or the early step declined
  because the options or settings are wrong), the ``runserver`` command itself
  does it, after set-up, and reports a mistake as runserver would.

The new process runs ``python -m asgidev --app-dir PROJECT`` with runserver's
options (asgidev spells them the same way; Django's ``--settings`` and
``--pythonpath`` travel in the environment, as ``DJANGO_SETTINGS_MODULE`` and
``PYTHONPATH``) plus the SQLite and ``MEDIA_ROOT`` excludes only the settings
can tell. Its environment is this
one's, less the variables manage.py loaded from the env files asgidev itself
reads: every new worker reads those files again, so an edit of ``.env``
reaches the next worker instead of the values manage.py loaded once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from django.conf import settings  # type: ignore[import-untyped]

from asgidev.config import Config

# SQLite writes these beside the database; none of them is code.
SQLITE_SUFFIXES = ("", "-journal", "-wal", "-shm")
# Where Linux keeps the environment this process started with (before manage.py changed it).
INITIAL_ENVIRON = "/proc/self/environ"


@dataclass(frozen=True)
class Handover:
    """The command line and environment of the asgidev process that replaces this one."""

    argv: tuple[str, ...]
    environ: dict[str, str]

    def run(self) -> NoReturn:
        """Replace this process (same pid, same terminal) with asgidev."""
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, list(self.argv), self.environ)


def plan(options: Mapping[str, Any]) -> Handover:
    """The asgidev process for runserver's parsed ``options``.

    Raises:
        AsgidevError: DEBUG is off without ALLOWED_HOSTS (runserver refuses to start), or an option is invalid.
    """
    from asgidev.cli import build_config
    from asgidev.django.options import DEST_PREFIX, config_fields_from_options
    from asgidev.errors import ConfigError
    from asgidev.sources import read_layers

    if not settings.DEBUG and not settings.ALLOWED_HOSTS:
        raise ConfigError("You must set settings.ALLOWED_HOSTS if DEBUG is False.")
    project_dir = project_directory(settings.SETTINGS_MODULE)
    fields = {**config_fields_from_options(dict(options)), "app_dir": project_dir}
    for name, is_given, value in (
        ("ipv6", options.get("use_ipv6"), True),
        ("reload", options.get("use_reloader") is False, False),
        ("static", options.get("use_static_handler") is False, False),
        ("insecure", options.get("insecure_serving"), True),
        ("skip_checks", options.get("skip_checks"), True),
    ):
        if is_given:
            fields[name] = value
    # Built here only to say what is wrong with runserver's words, before anything is replaced.
    config = build_config(fields, addrport=options.get("addrport"), layers=read_layers(os.environ, Path.cwd()))
    excludes = list(data_file_patterns(Path(project_dir)))
    if DEST_PREFIX + "reload_excludes" not in options:
        # Excludes on the command line replace those of the environment and pyproject.toml: carry them over.
        excludes[:0] = config.reload_excludes
    argv = [sys.executable, *_interpreter_flags(), "-m", "asgidev", "--app-dir", project_dir, *asgidev_args(options)]
    for pattern in excludes:
        argv += ["--reload-exclude", pattern]
    environ = environment_for(config, _initial_environ())
    if options.get("pythonpath"):
        # Django put it on this process's sys.path; the new process finds it through the environment.
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [options["pythonpath"], environ.get("PYTHONPATH", "")]))
    return Handover(tuple(argv), environ)


def asgidev_args(options: Mapping[str, Any]) -> list[str]:
    """runserver's parsed ``options`` as asgidev's command line (which spells runserver's switches the same way)."""
    from asgidev.django.options import DEST_PREFIX
    from asgidev.options import Kind, all_options

    args = [options["addrport"]] if options.get("addrport") else []
    for switch, is_given in (
        ("-6", options.get("use_ipv6")),
        ("--noreload", options.get("use_reloader") is False),
        ("--nostatic", options.get("use_static_handler") is False),
        ("--insecure", options.get("insecure_serving")),
        ("--skip-checks", options.get("skip_checks")),
    ):
        if is_given:
            args.append(switch)
    for option in all_options():
        if DEST_PREFIX + option.name not in options:
            continue
        value = options[DEST_PREFIX + option.name]
        if option.kind is Kind.FLAG:
            args.append(option.on_flags[0] if value else option.off_flags[0])
        elif option.kind is Kind.LIST:
            for item in value:
                args += [option.on_flags[0], str(item)]
        else:
            args += [option.on_flags[0], str(value)]
    return args


def environment_for(config: Config, initial: Mapping[str, str] | None) -> dict[str, str]:
    """This environment, less the variables manage.py set from the env files asgidev reads for each worker.

    A variable counts as manage.py's when it has the file's value now but not in
    the environment the process started with (``initial``; None where the OS
    cannot tell, and then any variable with the file's value counts).
    """
    from asgidev.envfile import apply, env_file_paths

    from_files = apply(env_file_paths(config), environ={})
    environ = dict(os.environ)
    for name, value in from_files.items():
        if environ.get(name) == value and (initial is None or initial.get(name) != value):
            del environ[name]
    return environ


def _initial_environ() -> dict[str, str] | None:
    try:
        raw = Path(INITIAL_ENVIRON).read_bytes()
    except OSError:
        return None
    pairs = (item.split("=", 1) for item in raw.decode("utf-8", "surrogateescape").split("\0") if "=" in item)
    return dict(pairs)


def _interpreter_flags() -> list[str]:
    # -X dev, -W and the like carry over, as they do to reload workers (supervisor/spawn.py).
    return list(subprocess._args_from_interpreter_flags())  # type: ignore[attr-defined]


def project_directory(settings_module: str) -> str:
    """The directory the settings module imports from (where manage.py usually is)."""
    import importlib

    path = Path(importlib.import_module(settings_module).__file__ or ".").resolve()
    if path.name == "__init__.py":  # a settings package: mysite/settings/__init__.py
        path = path.parent
    for _ in range(settings_module.count(".") + 1):
        path = path.parent
    return str(path)


def data_file_patterns(project_dir: Path) -> tuple[str, ...]:
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
