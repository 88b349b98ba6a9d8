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


def module_name(path: Path, package: Path) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(path: Path, known: set[str]) -> set[str]:
    """The ``known`` modules a file imports, at any depth: ``from asgidev.x import y`` is ``asgidev.x.y`` when that is a module."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            submodules = {f"{node.module}.{alias.name}" for alias in node.names} & known
            names.update(submodules)
            if len(submodules) < len(node.names):
                names.add(node.module)
    return names & known


def import_cycles(package: Path) -> list[list[str]]:
    """Groups of the package's modules that import each other, directly or round a loop (lazy imports count)."""
    paths = {module_name(p, package): p for p in package.rglob("*.py")}
    graph = {name: package_imports(path, set(paths)) - {name} for name, path in paths.items()}

    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for target in graph[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    reach = {name: reachable(name) for name in graph}
    cycles = {frozenset({name, *(other for other in reach[name] if name in reach[other])}) for name in graph if name in reach[name]}
    return sorted(sorted(cycle) for cycle in cycles)


def test_no_import_cycles() -> None:
    """Imports flow one way (design.md): no module reaches itself, not even through a lazy import."""
    assert import_cycles(PACKAGE) == []


def test_a_lazy_import_cycle_is_found(tmp_path: Path) -> None:
    """The cycle there was, runner → (lazily) django.integration → runner.LoadedApp; ``from asgidev import x`` is no cycle."""
    package = tmp_path / "asgidev"
    (package / "django").mkdir(parents=True)
    (package / "__init__.py").write_text("def serve():\n    from asgidev import runner\n")
    (package / "django" / "__init__.py").write_text("")
    (package / "config.py").write_text("")
    (package / "runner.py").write_text("from asgidev import config\n\ndef load():\n    from asgidev.django.integration import adapt\n")
    (package / "django" / "integration.py").write_text("from asgidev.runner import LoadedApp\n")
    assert import_cycles(package) == [["asgidev.django.integration", "asgidev.runner"]]
