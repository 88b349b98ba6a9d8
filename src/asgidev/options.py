"""The option table derived from ``Config``: every option's names, kind and value conversion.

``config.py`` declares each option once (default, help, flag names). This
module reads those declarations into ``Option`` rows, which the typer command
(``cli.py``), ``manage.py runserver`` (``django/options.py``), the environment
and ``[tool.asgidev]`` (``sources.py``) all use. Nothing here knows typer,
argparse or TOML files.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asgidev.config import Config, OptionMeta
from asgidev.errors import ConfigError

ENV_PREFIX = "ASGIDEV_"
# Spellings accepted for a boolean in the environment (case-insensitive), as click's BOOL type.
TRUE_WORDS = frozenset({"1", "true", "yes", "on", "y", "t"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", "n", "f", ""})


class Kind(enum.Enum):
    """What an option's value looks like, which decides how each front end spells it."""

    FLAG = "flag"  # bool: on/off switches
    VALUE = "value"  # one int, float or str
    CHOICE = "choice"  # one of a Literal's strings
    LIST = "list"  # a tuple, from a repeatable option


@dataclass(frozen=True, slots=True)
class Option:
    """One Config field as the outside world spells it."""

    name: str  # the Config field
    key: str  # 'reload-include': the [tool.asgidev] key; the environment variable is ASGIDEV_RELOAD_INCLUDE
    kind: Kind
    value_type: type  # int, float or str (for LIST: of one command-line item)
    is_optional: bool  # None is a valid value
    choices: tuple[str, ...]
    default: Any
    meta: OptionMeta
    on_flags: tuple[str, ...]  # '--reload'; for a non-flag option, all its names
    off_flags: tuple[str, ...]  # '--no-reload', '--noreload'

    @property
    def help(self) -> str:
        return self.meta.help

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.key.upper().replace("-", "_")

    def from_items(self, items: Sequence[str]) -> tuple[Any, ...]:
        """A LIST option's value from its command-line items (``--header`` given twice: two items)."""
        split = self.meta.split
        return tuple(value for item in items for value in (split(item) if split else (item,)))

    def from_text(self, text: str, where: str) -> Any:
        """The value an environment variable spells; ``where`` names it in errors.

        Raises:
            ConfigError: the text is not a value of this option's type.
        """
        text = text.strip()
        if self.kind is Kind.FLAG:
            if text.lower() in TRUE_WORDS:
                return True
            if text.lower() in FALSE_WORDS:
                return False
            raise ConfigError(f"{where}={text!r} is not a boolean.", "Use 1/0, true/false, yes/no or on/off.")
        if self.kind is Kind.LIST:
            # Commas separate items, as in uvicorn's --forwarded-allow-ips.
            return self.from_items([item.strip() for item in text.split(",") if item.strip()])
        if self.is_optional and text.lower() in ("", "none"):
            return None
        return self._convert(text, where)

    def from_toml(self, value: object, where: str) -> Any:
        """The value a TOML key holds (a string, number, boolean or array).

        Raises:
            ConfigError: the value does not fit this option.
        """
        if self.kind is Kind.LIST:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
                raise ConfigError(f"{where} must be a string or an array of strings, not {value!r}.")
            return self.from_items(items)
        expected: tuple[type, ...] = {bool: (bool,), int: (int,), float: (int, float), str: (str,)}[self.value_type]
        if isinstance(value, bool) and self.value_type is not bool:
            expected = ()
        if not isinstance(value, expected):
            raise ConfigError(f"{where} must be a {self.value_type.__name__}, not {value!r}.")
        return self._convert(str(value), where) if self.kind is Kind.CHOICE else self.value_type(value)

    def _convert(self, text: str, where: str) -> Any:
        if self.kind is Kind.CHOICE and text not in self.choices:
            raise ConfigError(f"{where}={text!r} is not one of: {', '.join(self.choices)}.")
        try:
            return self.value_type(text)
        except ValueError:
            raise ConfigError(f"{where}={text!r} is not a valid {self.value_type.__name__}.") from None


@functools.cache
def all_options() -> tuple[Option, ...]:
    """Every Config field as an Option, in declaration order."""
    hints = typing.get_type_hints(Config)
    return tuple(_option(f, hints[f.name]) for f in dataclasses.fields(Config))


def option_named(name: str) -> Option:
    """The Option of Config field ``name``."""
    for option in all_options():
        if option.name == name:
            return option
    raise KeyError(name)


def _option(f: dataclasses.Field[Any], hint: Any) -> Option:
    meta: OptionMeta = f.metadata["option"]
    kind_hint, is_optional = _strip_none(hint)
    choices: tuple[str, ...] = ()
    value_type: type = str
    if kind_hint is bool:
        kind, value_type = Kind.FLAG, bool
    elif typing.get_origin(kind_hint) is tuple:
        kind = Kind.LIST
    elif typing.get_origin(kind_hint) is typing.Literal:
        kind, choices = Kind.CHOICE, tuple(typing.get_args(kind_hint))
    else:
        kind, value_type = Kind.VALUE, kind_hint
    on_flags, off_flags = _flags(f.name, meta, kind)
    long_names = [flag for flag in on_flags if flag.startswith("--")]
    key = long_names[0].removeprefix("--") if long_names else f.name.replace("_", "-")
    return Option(f.name, key, kind, value_type, is_optional, choices, f.default, meta, on_flags, off_flags)


def _flags(name: str, meta: OptionMeta, kind: Kind) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Split click-style declarations ('--reload/--no-reload', ' /--noreload') into on and off switches."""
    if meta.is_positional:
        return (), ()
    dashed = "--" + name.replace("_", "-")
    declarations = meta.flags or ((f"{dashed}/--no-{dashed[2:]}",) if kind is Kind.FLAG else (dashed,))
    on: list[str] = []
    off: list[str] = []
    for declaration in declarations:
        first, slash, second = declaration.partition("/")
        if first.strip():
            on.append(first.strip())
        if slash and second.strip():
            off.append(second.strip())
    return tuple(on), tuple(off)


def _strip_none(hint: Any) -> tuple[Any, bool]:
    """``int | None`` → ``(int, True)``."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return hint, False
