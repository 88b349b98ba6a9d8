"""Find a Django project from files alone: its settings module and its ASGI app.

Nothing here imports Django or the user's code, so asking "is this a Django
project?" costs a few file reads, and a broken ``settings.py`` cannot fail it.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

from asgidev.errors import AppImportError

SETTINGS_ENV = "DJANGO_SETTINGS_MODULE"


@dataclass(frozen=True)
class DjangoProject:
    """A Django project directory and where its settings module name came from."""

    directory: Path
    settings_module: str
    settings_source: str  # "manage.py" or "DJANGO_SETTINGS_MODULE"
    # What else manage.py does before Django starts (bare asgidev runs none of it): "line 9: load_dotenv()".
    manage_py_setup: str | None = None


@dataclass(frozen=True)
class AppChoice:
    """The app to serve as ``module:attribute`` (None: Django's default handler) and why."""

    spec: str | None
    reason: str


def find_project(app_dir: str) -> DjangoProject | None:
    """The Django project in ``app_dir``, or None when it is not one.

    ``DJANGO_SETTINGS_MODULE`` wins over ``manage.py``, as it does for
    ``manage.py`` itself (which only calls ``os.environ.setdefault``).

    Raises:
        AppImportError: ``manage.py`` exists but names no settings module.
    """
    directory = Path(app_dir).resolve()
    from_env = os.environ.get(SETTINGS_ENV)
    if from_env:
        return DjangoProject(directory, from_env, SETTINGS_ENV)
    manage_py = directory / "manage.py"
    if not manage_py.is_file():
        return None
    source = manage_py.read_text(encoding="utf-8", errors="replace")
    module = settings_from_manage_py(source)
    if module is None:
        raise AppImportError(
            f"Found {manage_py} but could not tell which settings module it uses.",
            f"Set {SETTINGS_ENV}, or name the app: 'asgidev mysite.asgi:application'.",
        )
    return DjangoProject(directory, module, "manage.py", extra_setup(source))


def settings_from_manage_py(source: str) -> str | None:
    """The module in ``os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")``, if any."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setdefault"):
            continue
        args = node.args
        if len(args) == 2 and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in args):
            key, value = (a.value for a in args)  # type: ignore[attr-defined]
            if key == SETTINGS_ENV and isinstance(value, str):
                return value
    return None


def extra_setup(source: str) -> str | None:
    """The first thing ``manage.py`` does besides Django's template (set the settings module, run the command), if any.

    ``"line 9: dotenv.load_dotenv()"``. Imports, ``def main()``, the
    ``__main__`` guard and the ``try``/``except ImportError`` around Django's
    import are the template; any other statement is set-up bare asgidev skips.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.Pass)) or _is_docstring(node):
            continue
        if isinstance(node, ast.FunctionDef) or (isinstance(node, ast.If) and "__name__" in ast.unparse(node.test)):
            pending[:0] = node.body
        elif isinstance(node, ast.Try):
            pending[:0] = [*node.body, *node.orelse, *node.finalbody]
        elif not (isinstance(node, ast.Expr) and _is_template_call(node.value, functions)):
            code = ast.unparse(node).splitlines()[0]
            return f"line {node.lineno}: {code[:80]}"
    return None


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def _is_template_call(node: ast.expr, functions: set[str]) -> bool:
    """``os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)``, ``execute_from_command_line(...)``, ``main()``."""
    if not isinstance(node, ast.Call):
        return False
    called = ast.unparse(node.func)
    if called == "os.environ.setdefault":
        return bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == SETTINGS_ENV
    return called.rpartition(".")[2] == "execute_from_command_line" or called in functions


def choose_app(project: DjangoProject, asgi_application: str | None) -> AppChoice:
    """What to serve: ``ASGI_APPLICATION`` if set, else ``application`` from the project's ``asgi.py``.

    ``asgi.py`` is looked for beside the settings module and in each package
    above it, up to the project directory (``mysite/settings/dev.py`` finds
    ``mysite/asgi.py``; a top-level ``settings.py``, as django-oscar's sandbox
    has, finds the ``asgi.py`` beside it). With neither, the choice is Django's
    own handler (``spec`` None).
    """
    if asgi_application:
        return AppChoice(dotted_to_spec(asgi_application), f"ASGI_APPLICATION = {asgi_application!r}")
    parts = project.settings_module.split(".")[:-1]
    while True:
        if (project.directory.joinpath(*parts) / "asgi.py").is_file():
            module = ".".join([*parts, "asgi"])
            return AppChoice(f"{module}:application", f"the project's {'/'.join([*parts, 'asgi.py'])}")
        if not parts:
            return AppChoice(None, "django.core.asgi.get_asgi_application() (no asgi.py found)")
        parts.pop()


def dotted_to_spec(dotted: str) -> str:
    """``"mysite.asgi.application"`` (Django's setting style) as ``"mysite.asgi:application"``."""
    if ":" in dotted:
        return dotted
    module, _, attribute = dotted.rpartition(".")
    return f"{module}:{attribute}" if module else dotted
