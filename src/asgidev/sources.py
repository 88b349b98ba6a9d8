"""Where option values come from besides the command line: ``ASGIDEV_<OPTION>`` and ``[tool.asgidev]``.

Order (documented in docs/cli.md): command line > environment > pyproject.toml
> Config's defaults. Both sources are generated from the option table
(``options.py``), so every option has both spellings, and a key that names
no option is an error that names it.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asgidev.errors import ConfigError
from asgidev.options import Option, all_options

PYPROJECT = "pyproject.toml"
TABLE = "tool.asgidev"


@dataclass(frozen=True, slots=True)
class Layers:
    """The values each source set, by Config field name."""

    environment: dict[str, Any] = field(default_factory=dict)
    pyproject: dict[str, Any] = field(default_factory=dict)
    pyproject_path: Path | None = None

    def merged(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The fields to build a Config from: ``given`` (the command line) wins, then the environment, then pyproject."""
        return {**self.pyproject, **self.environment, **given}


def read_layers(environ: Mapping[str, str], start_dir: Path) -> Layers:
    """The environment's and the nearest ``[tool.asgidev]``'s values.

    Raises:
        ConfigError: a value does not fit its option, an unknown key, or an unreadable pyproject.toml.
    """
    path = find_pyproject(start_dir)
    return Layers(from_environment(environ), from_pyproject(path) if path else {}, path)


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Each option whose ``ASGIDEV_<OPTION>`` variable is set.

    Raises:
        ConfigError: a variable's value does not fit its option.
    """
    return {o.name: o.from_text(environ[o.env_var], o.env_var) for o in all_options() if o.env_var in environ}


def find_pyproject(start_dir: Path) -> Path | None:
    """The nearest pyproject.toml with a ``[tool.asgidev]`` table, from ``start_dir`` up (as ruff finds its own)."""
    for directory in (start_dir.resolve(), *start_dir.resolve().parents):
        candidate = directory / PYPROJECT
        if candidate.is_file() and "[tool.asgidev" in _read(candidate):
            return candidate
    return None


def from_pyproject(path: Path) -> dict[str, Any]:
    """The options ``[tool.asgidev]`` in ``path`` sets; relative paths are relative to that file.

    Raises:
        ConfigError: the file is not valid TOML, a key names no option, or a value does not fit.
    """
    try:
        data = tomllib.loads(_read(path))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.", "Fix the file, or remove its [tool.asgidev] table.") from None
    table = data.get("tool", {}).get("asgidev", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{TABLE}] must be a table.")
    by_key = {o.key: o for o in all_options()}
    values: dict[str, Any] = {}
    for key, raw in table.items():
        option = by_key.get(key)
        if option is None:
            raise ConfigError(f"{path}: unknown key {key!r} in [{TABLE}].", _suggestion(key, by_key))
        value = option.from_toml(raw, f"{path}: {key}")
        values[option.name] = _relative_to(path.parent, option, value)
    if "app" in values and "app_dir" not in values:
        # 'app = "main:app"' names a module beside pyproject.toml, wherever asgidev is started from.
        values["app_dir"] = str(path.parent)
    return values


def _relative_to(base: Path, option: Option, value: Any) -> Any:
    if not option.meta.is_path or value is None:
        return value
    if isinstance(value, tuple):
        return tuple(str(base / item) for item in value)
    return str(base / value)


def _suggestion(key: str, by_key: Mapping[str, Option]) -> str:
    close = difflib.get_close_matches(key.replace("_", "-"), by_key, n=1)
    if close:
        return f"Did you mean {close[0]!r}?"
    return "The keys are the long option names of 'asgidev --help' without '--' (docs/cli.md lists them)."


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}.") from None
