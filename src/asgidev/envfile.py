"""``--env-file``: the dotenv files whose variables each new worker's environment gets.

Read with python-dotenv in the worker, before the app (or, for a spare, its
pre-imports) loads, and read again by every new worker, so an edit of ``.env``
reloads the app with the new values. Variables already set in the shell win,
as dotenv's default; of several files, the later wins. A line dotenv cannot
parse is one warning naming the file and line, never a crash.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import MutableMapping, Sequence
from pathlib import Path

from asgidev.config import Config
from asgidev.errors import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_ENV_FILE = ".env"


def env_file_paths(config: Config) -> tuple[Path, ...]:
    """The files to read: every ``--env-file``, else ``.env`` in the app directory when it exists."""
    if config.env_files:
        return tuple(Path(path).absolute() for path in config.env_files)
    default = Path(config.app_dir, DEFAULT_ENV_FILE).absolute()
    return (default,) if default.is_file() else ()


def check_env_files(config: Config) -> None:
    """Fail early, with the fix, when an ``--env-file`` given does not exist.

    Raises:
        ConfigError: a named file is missing.
    """
    for path in config.env_files:
        if not os.path.isfile(path):
            raise ConfigError(f"--env-file {path}: no such file.", "Create it, or drop the option.")


def apply(paths: Sequence[str | os.PathLike[str]], environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Set the variables of the dotenv files ``paths`` in ``environ`` (``os.environ``) unless already set there.

    Meant for a process that has not loaded the app yet: a worker after GO, or
    a spare before it pre-imports. A file that has disappeared is a warning.
    Returns the variables set.
    """
    import dotenv

    target = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for path in paths:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            logger.warning("Warning: cannot read the env file %s (%s); its variables are not set.", path, exc)
            continue
        _warn_unparsable(Path(path), text)
        # dotenv warns about bad lines itself, without the file's name; ours replaces that.
        dotenv_logger = logging.getLogger("dotenv.main")
        was_disabled, dotenv_logger.disabled = dotenv_logger.disabled, True
        try:
            parsed = dotenv.dotenv_values(stream=io.StringIO(text), interpolate=True)
        finally:
            dotenv_logger.disabled = was_disabled
        values.update({key: value for key, value in parsed.items() if value is not None})
    applied = {key: value for key, value in values.items() if key not in target}
    target.update(applied)
    return applied


def _warn_unparsable(path: Path, text: str) -> None:
    from dotenv.parser import parse_stream

    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            logger.warning(
                "Warning: %s, line %d: cannot parse %r; the line is ignored. Write it as NAME=value.",
                path,
                binding.original.line,
                binding.original.string.strip()[:60],
            )


def banner_line(config: Config) -> str | None:
    """``Environment: .env`` for the start-up banner, or None without env files."""
    paths = env_file_paths(config)
    if not paths:
        return None
    when = " (re-read on every reload)" if config.reload else ""
    return "Environment: " + ", ".join(_short(path) for path in paths) + when


def _short(path: Path) -> str:
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)
