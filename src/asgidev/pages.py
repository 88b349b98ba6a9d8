"""HTML pages the server renders itself, from templates in package data.

Every inserted value is HTML-escaped: these pages may contain request data
or exception text, and must never echo it as markup.
"""

from __future__ import annotations

import functools
import html
from importlib import resources
from string import Template

from asgidev import __version__


@functools.cache
def _template(name: str) -> Template:
    return Template(resources.files("asgidev").joinpath("templates", name).read_text(encoding="utf-8"))


def render(name: str, **values: str) -> str:
    """Render template ``name`` with every value escaped."""
    return _template(name).substitute({k: html.escape(v) for k, v in values.items()})


def welcome_page() -> str:
    """The page served when asgidev runs without an app."""
    return render("welcome.html", version=__version__)


def error_page(title: str, message: str, traceback: str, hint: str = "") -> str:
    """The page shown while the app's code cannot be imported."""
    return render("error.html", title=title, message=message, traceback=traceback, hint=hint)
