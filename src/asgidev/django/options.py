"""asgidev's options on an argparse parser, derived from ``Config`` (for ``manage.py runserver``).

Every ``Config`` field that runserver does not already spell its own way
becomes ``--field-name`` with the field's help text and default, so the
Django command needs no second list of options and never imports typer.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

from asgidev.config import Config, field_help, parse_header_option

# Fields runserver's own arguments set (addrport, -6, --noreload, --nostatic,
# --insecure, --skip-checks), and what the command takes from settings (the
# app, where the project is).
RUNSERVER_FIELDS = frozenset({"app", "app_dir", "factory", "host", "port", "ipv6", "reload", "static", "insecure", "skip_checks"})
# Repeatable options are singular on the command line, as in ``asgidev --help``.
FLAG_NAMES = {
    "headers": "header",
    "reload_dirs": "reload-dir",
    "reload_includes": "reload-include",
    "reload_excludes": "reload-exclude",
    "allowed_hosts": "allowed-host",
}
DEST_PREFIX = "asgidev_"


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one option per ``Config`` field not covered by runserver's arguments."""
    hints = typing.get_type_hints(Config)
    group = parser.add_argument_group("asgidev options")
    for f in dataclasses.fields(Config):
        if f.name in RUNSERVER_FIELDS:
            continue
        flag = "--" + FLAG_NAMES.get(f.name, f.name.replace("_", "-"))
        kwargs: dict[str, Any] = {"dest": DEST_PREFIX + f.name, "help": field_help(f.name)}
        kind = _strip_none(hints[f.name])
        if kind is bool:
            kwargs.update(action=argparse.BooleanOptionalAction, default=f.default)
        elif typing.get_origin(kind) is tuple:
            kwargs.update(action="append", default=None, metavar="'NAME: VALUE'" if f.name == "headers" else "VALUE")
        elif typing.get_origin(kind) is typing.Literal:
            kwargs.update(choices=typing.get_args(kind), default=f.default)
        else:
            kwargs.update(type=kind, default=f.default, metavar=f.name.upper())
        group.add_argument(flag, **kwargs)


def config_fields_from_options(options: dict[str, Any]) -> dict[str, Any]:
    """The ``Config`` fields the options added by ``add_config_arguments`` hold.

    Raises:
        ConfigError: a ``--header`` is malformed.
    """
    fields: dict[str, Any] = {}
    for key, value in options.items():
        if not key.startswith(DEST_PREFIX):
            continue
        name = key.removeprefix(DEST_PREFIX)
        if name == "headers":
            value = tuple(parse_header_option(h) for h in value or ())
        elif name == "forwarded_allow_ips":
            if value is None:
                continue
            value = tuple(ip.strip() for item in value for ip in item.split(",") if ip.strip())
        elif isinstance(value, list) or (value is None and isinstance(Config.__dataclass_fields__[name].default, tuple)):
            value = tuple(value or ())
        fields[name] = value
    return fields


def _strip_none(kind: Any) -> Any:
    """``int | None`` → ``int``."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return kind
