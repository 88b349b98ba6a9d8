"""HTML pages the server renders itself, from templates in package data.

Every inserted value is HTML-escaped: these pages may contain request data
or exception text, and must never echo it as markup.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Mapping
from importlib import resources
from string import Template

from asgidev import __version__


@functools.cache
def _template(name: str) -> Template:
    return Template(_read(name))


def _read(name: str) -> str:
    return resources.files("asgidev").joinpath("templates", name).read_text(encoding="utf-8")


# A parts file holds several small templates, each after a line "<!-- part: NAME -->".
_PART = re.compile(r"^<!-- part: ([a-z-]+) -->\n", re.MULTILINE)


@functools.cache
def _parts(name: str) -> dict[str, Template]:
    pieces = _PART.split(_read(name))[1:]
    return {part: Template(text) for part, text in zip(pieces[::2], pieces[1::2], strict=True)}


def render(name: str, **values: str) -> str:
    """Render template ``name`` with every value escaped."""
    return _template(name).substitute({k: html.escape(v) for k, v in values.items()})


def render_part(template: str, part: str, markup: Mapping[str, str] | None = None, /, **values: str) -> str:
    """Render one part of the parts file ``template``: ``values`` escaped, ``markup`` (already rendered parts) as it is."""
    return _parts(template)[part].substitute({**{k: html.escape(v) for k, v in values.items()}, **(markup or {})})


def raw_template(name: str) -> str:
    """A template file's text as it is (a stylesheet included by pages)."""
    return _read(name)


def welcome_page() -> str:
    """The page served when asgidev runs without an app."""
    return render("welcome.html", version=__version__)


def error_page(title: str, message: str, traceback: str, hint: str = "") -> str:
    """The page shown while the app's code cannot be imported."""
    return render("error.html", title=title, message=message, traceback=traceback, hint=hint)
