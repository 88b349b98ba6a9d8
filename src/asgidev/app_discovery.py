"""Find the app when no APP is given, the way ``fastapi dev`` does: by file name, then by attribute name.

Done by reading the source, never by importing it, so the reload supervisor
can use it too and a broken module is reported by the worker that imports it.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

# Tried in this order, as ``fastapi dev`` does, plus the names ASGI projects use.
CANDIDATE_FILES = ("main.py", "app.py", "api.py", "asgi.py", "app/main.py", "app/app.py", "app/api.py", "app/asgi.py")
# ``app`` first: FastAPI, Starlette, Litestar and Quart tutorials all name it so.
CANDIDATE_ATTRIBUTES = ("app", "application")


@dataclass(frozen=True, slots=True)
class FoundApp:
    """A discovered app: its ``module:attribute`` and the file it is in (relative to the app directory)."""

    spec: str
    filename: str


def discover_app(app_dir: str) -> FoundApp | None:
    """The first candidate file in ``app_dir`` that defines a candidate attribute at top level, or None."""
    for filename in CANDIDATE_FILES:
        path = os.path.join(app_dir, filename)
        if not os.path.isfile(path):
            continue
        attribute = _top_level_app_name(path)
        if attribute is not None:
            module = filename.removesuffix(".py").replace("/", ".")
            return FoundApp(f"{module}:{attribute}", filename)
    return None


def _top_level_app_name(path: str) -> str | None:
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except (OSError, SyntaxError, ValueError):
        # A file that does not parse is still the likeliest app: let the import report the error.
        return CANDIDATE_ATTRIBUTES[0]
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return next((name for name in CANDIDATE_ATTRIBUTES if name in names), None)
