"""The import rules of docs/discussion/design.md, held by a test."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "asgidev"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at any depth (lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).glob("*.py"))


def forbidden(path: Path, prefixes: tuple[str, ...]) -> list[str]:
    return sorted(name for name in imports_of(path) if name.startswith(prefixes))


@pytest.mark.parametrize("path", modules("protocols"), ids=lambda p: p.name)
def test_protocols_are_sans_io(path: Path) -> None:
    """Bytes in, events out: no asyncio, no ASGI, no server."""
    assert forbidden(path, ("asyncio", "asgidev.asgi", "asgidev.server", "asgidev.supervisor", "anyio")) == []


@pytest.mark.parametrize("path", modules("asgi"), ids=lambda p: p.name)
def test_asgi_knows_neither_sockets_nor_parsers(path: Path) -> None:
    assert forbidden(path, ("socket", "h11", "wsproto", "asgidev.protocols", "asgidev.server", "asgidev.supervisor")) == []


@pytest.mark.parametrize(
    "name", ["supervisor.py", "handle.py", "handoff.py", "spawn.py", "watcher.py", "watch_mode.py", "poller.py", "gitignore.py"]
)
def test_supervisor_process_never_imports_the_app_or_the_server(name: str) -> None:
    """Nothing the user breaks can take down the process that watches for the fix."""
    path = PACKAGE / "supervisor" / name
    assert forbidden(path, ("asgidev.runner", "asgidev.importer", "asgidev.server", "asgidev.django", "asgidev.supervisor.worker")) == []


def test_typer_only_in_the_cli() -> None:
    users = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if any(n.startswith("typer") for n in imports_of(p))]
    assert users == ["cli.py"]


def test_django_only_in_the_django_package() -> None:
    users = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if any(n == "django" or n.startswith("django.") for n in imports_of(p))
    ]
    assert users and all(u.startswith("django/") for u in users), users


def test_modules_stay_small() -> None:
    """STYLE.md: one job per module; none much over ~400 lines."""
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {name: size for name, size in sizes.items() if size > 450} == {}
