"""The import rules and module sizes of docs/discussion/design.md and STYLE.md, held by a test."""

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
    "name",
    [
        "supervisor.py",
        "handle.py",
        "control.py",
        "handed_back.py",
        "reload_rules.py",
        "spawn.py",
        "watcher.py",
        "watch_mode.py",
        "poller.py",
        "gitignore.py",
    ],
)
def test_supervisor_process_never_imports_the_app_or_the_server(name: str) -> None:
    """Nothing the user breaks can take down the process that watches for the fix."""
    path = PACKAGE / "supervisor" / name
    assert forbidden(path, ("asgidev.runner", "asgidev.importer", "asgidev.server", "asgidev.django", "asgidev.supervisor.worker")) == []


def test_h11_only_in_the_http11_protocol() -> None:
    """The server consumes asgidev's protocol events (protocols/events.py); h11 is an implementation detail of one module."""
    users = [
        p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py") if any(n == "h11" or n.startswith("h11.") for n in imports_of(p))
    ]
    assert users == ["protocols/http11.py"]


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


# STYLE.md: one job per module, none over 400 lines.
MAX_MODULE_LINES = 400


def test_modules_stay_small() -> None:
    """STYLE.md: one job per module; none over 400 lines."""
    sizes = {p.relative_to(PACKAGE).as_posix(): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {name: size for name, size in sizes.items() if size > MAX_MODULE_LINES} == {}


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


# The layers, highest first (docs/discussion/design.md, "Which way imports go"). A module may import its own
# layer and those below it, never above; protocols and asgi share a rank and never import each other.
# Every module not named here is a foundation (config, errors, sockets, pages, ...).
LAYERS: dict[str, tuple[int, tuple[str, ...]]] = {
    "entry points": (4, ("asgidev.cli", "asgidev.launch", "asgidev.__main__", "asgidev.django", "asgidev.testing")),
    # runner.py is the in-process serving lifecycle the reload worker runs too: above the server, below the entry points.
    "supervisor": (3, ("asgidev.supervisor", "asgidev.runner")),
    # The ASGI middleware the entry points wrap the app in (live reload, tracebacks) sit with the server they run in.
    "server": (2, ("asgidev.server", "asgidev.livereload", "asgidev.tracebacks")),
    "protocols": (1, ("asgidev.protocols",)),
    "asgi": (1, ("asgidev.asgi",)),
    "foundations": (0, ()),
}
# The imports up the layers that are meant, each lazy and each said in docs/discussion/design.md.
UPWARD_IMPORTS = {
    # load_app's fallback to Django discovery, made only when the app is not found otherwise.
    ("asgidev.runner", "asgidev.django.integration"),
    # The worker's answer to APPLY (templates or translations changed) resets Django's caches in place.
    ("asgidev.supervisor.worker", "asgidev.django.reload"),
}


def layer_of(module: str) -> str:
    for layer, (_, prefixes) in LAYERS.items():
        if any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes):
            return layer
    return "foundations"


MODULES = {module_name(path, PACKAGE): path for path in sorted(PACKAGE.rglob("*.py"))}


def modules_imported(module: str) -> set[str]:
    # The package itself is imported for __version__ only; its lazy re-exports are the embedding API's.
    return package_imports(MODULES[module], set(MODULES)) - {module, "asgidev"}


@pytest.mark.parametrize("module", [m for m in MODULES if m != "asgidev"])
def test_imports_flow_down_the_layers(module: str) -> None:
    """entry points -> supervisor -> server -> protocols | asgi -> foundations."""
    layer = layer_of(module)
    rank = LAYERS[layer][0]
    upward = []
    for imported in sorted(modules_imported(module)):
        other = layer_of(imported)
        is_sideways = other != layer and LAYERS[other][0] == rank and rank > 0
        if (LAYERS[other][0] > rank or is_sideways) and (module, imported) not in UPWARD_IMPORTS:
            upward.append(f"{imported} ({other})")
    assert upward == [], f"{module} ({layer}) imports above or beside its layer"


def test_every_layer_names_real_modules() -> None:
    """A renamed package must not leave its layer empty, and with it the rule it held."""
    for layer, (_, prefixes) in LAYERS.items():
        for prefix in prefixes:
            assert any(m == prefix or m.startswith(prefix + ".") for m in MODULES), (layer, prefix)
    assert {pair for pair in UPWARD_IMPORTS if pair[1] in modules_imported(pair[0])} == UPWARD_IMPORTS
