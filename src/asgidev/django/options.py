"""asgidev's options on an argparse parser, generated from ``Config`` (for ``manage.py runserver``).

Every option of the table in ``options.py`` that runserver does not already
spell its own way becomes an argparse option with the same flags and help as in
``asgidev --help``, so the Django command needs no second list of options and
never imports typer. An option left out is absent from the parsed options, so
the environment and pyproject.toml can fill it in, as on the command line.
"""

from __future__ import annotations

import argparse
from typing import Any

from asgidev.options import Kind, all_options

# Fields runserver's own arguments set (addrport, -6, --noreload, --nostatic,
# --insecure, --skip-checks), and what the command takes from settings (the
# app, where the project is).
RUNSERVER_FIELDS = frozenset({"app", "app_dir", "factory", "host", "port", "ipv6", "reload", "static", "insecure", "skip_checks"})
DEST_PREFIX = "asgidev_"


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one option per ``Config`` field not covered by runserver's arguments."""
    group = parser.add_argument_group("asgidev options")
    for option in all_options():
        if option.name in RUNSERVER_FIELDS:
            continue
        # SUPPRESS: an option not given leaves no attribute, so it does not hide a lower source.
        common: dict[str, Any] = {"dest": DEST_PREFIX + option.name, "default": argparse.SUPPRESS}
        if option.kind is Kind.FLAG:
            group.add_argument(*option.on_flags, action="store_true", help=option.help, **common)
            if option.off_flags:
                group.add_argument(*option.off_flags, action="store_false", help=f"Turn {option.on_flags[0]} off.", **common)
            continue
        common.update(help=option.help, metavar=option.meta.metavar or option.key.upper().replace("-", "_"))
        if option.kind is Kind.LIST:
            group.add_argument(*option.on_flags, action="append", **common)
        elif option.kind is Kind.CHOICE:
            group.add_argument(*option.on_flags, choices=option.choices, **{**common, "metavar": None})
        else:
            group.add_argument(*option.on_flags, type=option.value_type, **common)


def config_fields_from_options(options: dict[str, Any]) -> dict[str, Any]:
    """The ``Config`` fields the options added by ``add_config_arguments`` hold (only those given).

    Raises:
        ConfigError: a ``--header`` is malformed.
    """
    fields: dict[str, Any] = {}
    for option in all_options():
        key = DEST_PREFIX + option.name
        if key in options:
            value = options[key]
            fields[option.name] = option.from_items(value) if option.kind is Kind.LIST else value
    return fields
