"""Warm reloads: the spare worker imports the installed modules the app needs before the change arrives.

Real subprocesses and real file edits. The "installed" packages live in a
directory on PYTHONPATH outside the watched project, as site-packages does.
"""

from __future__ import annotations

import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess, save_like_an_editor
from tests.waiting import wait_until

# The heavy dependency's import time: a cold reload can never be faster than this.
HEAVY_IMPORT_S = 2.5

APP = textwrap.dedent(
    """
    import installed_dep

    VERSION = {version!r}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = f"{{VERSION}} {{installed_dep.describe()}}".encode()
        await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}})
        await send({{"type": "http.response.body", "body": body}})
    """
)

DEPENDENCY = textwrap.dedent(
    """
    import time

    time.sleep({sleep!r})
    VALUE = {value!r}

    def describe():
        return f"dep={{VALUE}}"
    """
)

# An installed module that reaches for the project's code at import and falls back quietly when it cannot:
# warming must not cache the fallback (a cold start finds the project's module).
PLUGIN_DEPENDENCY = textwrap.dedent(
    """
    try:
        import project_settings
        GREETING = project_settings.GREETING
    except ImportError:
        GREETING = "fallback"

    def describe():
        return f"greeting={GREETING}"
    """
)


class Layout:
    """A project directory (watched) and an installed-packages directory beside it (not watched)."""

    def __init__(self, root: Path) -> None:
        self.project = root / "project"
        self.installed = root / "installed"
        self.project.mkdir()
        self.installed.mkdir()

    def write_app(self, version: str) -> None:
        save_like_an_editor(self.project / "main.py", APP.format(version=version))

    def write_dependency(self, value: str, sleep: float = 0.0) -> None:
        save_like_an_editor(self.installed / "installed_dep.py", DEPENDENCY.format(value=value, sleep=sleep))

    def start(self, *extra: str) -> ServerProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "PYTHONPATH": os.pathsep.join([str(self.installed), _source_dir()])}
        proc = ServerProcess.asgidev(["main:app", "--port", "0", "--log-level", "debug", *extra], cwd=self.project, env=env)
        proc.wait_started()
        return proc


def _source_dir() -> str:
    import asgidev

    return str(Path(asgidev.__file__).resolve().parent.parent)


@pytest.fixture
def layout(tmp_path: Path) -> Iterator[Layout]:
    yield Layout(tmp_path)


def get_text(url: str) -> str:
    return httpx.get(url, timeout=10).text


def wait_for_body(url: str, expected: str, timeout: float = 20.0) -> None:
    wait_until(lambda: get_text(url) == expected, timeout)


def test_heavy_dependency_costs_nothing_after_the_first_start(layout: Layout) -> None:
    layout.write_dependency("1", sleep=HEAVY_IMPORT_S)
    layout.write_app("v1")
    server = layout.start()
    try:
        assert get_text(server.url) == "v1 dep=1"
        # The spare imports the dependency in the background, once, before any change.
        server.wait_for_line(r"Spare worker warm: \d+ modules", timeout=30)
        for version in ("v2", "v3"):
            saved = time.monotonic()
            layout.write_app(version)
            wait_for_body(server.url, f"{version} dep=1")
            elapsed = time.monotonic() - saved
            # A cold worker would spend HEAVY_IMPORT_S importing the dependency alone.
            assert elapsed < HEAVY_IMPORT_S, f"reload to {version} took {elapsed:.2f} s:\n{server.output}"
            server.wait_for_line(r"Reloaded in \d+ ms \(changed: main\.py; warm: \d+ modules\)", count=int(version[1]) - 1)
            server.wait_for_line(r"Spare worker warm", count=int(version[1]))
    finally:
        server.stop()


def test_a_warmed_module_changed_on_disk_is_served_as_a_cold_start_would(layout: Layout) -> None:
    layout.write_dependency("old")
    layout.write_app("v1")
    server = layout.start()
    try:
        assert get_text(server.url) == "v1 dep=old"
        server.wait_for_line(r"Spare worker warm: \d+ modules", timeout=30)
        # As `pip install -U` would: the installed file changes, nothing watched does.
        layout.write_dependency("new")
        layout.write_app("v2")
        wait_for_body(server.url, "v2 dep=new")
        server.wait_for_line(r"installed_dep\.py changed since the spare worker loaded it")
        # The next spare warms with the new file, and the next reload is warm again.
        server.wait_for_line(r"Spare worker warm", count=2, timeout=30)
        layout.write_app("v3")
        wait_for_body(server.url, "v3 dep=new")
        server.wait_for_line(r"Reloaded in \d+ ms \(changed: main\.py; warm: \d+ modules\)")
    finally:
        server.stop()


def test_warming_never_imports_the_projects_code(layout: Layout) -> None:
    save_like_an_editor(layout.installed / "installed_dep.py", "import other_dep\n" + PLUGIN_DEPENDENCY)
    # Built-in modules (origin "built-in", not a path) are not the project's, whatever the working directory.
    save_like_an_editor(layout.installed / "other_dep.py", "import gc, _bisect\n")
    save_like_an_editor(layout.project / "project_settings.py", 'GREETING = "hello"\n')
    layout.write_app("v1")
    server = layout.start()
    try:
        assert get_text(server.url) == "v1 greeting=hello"
        server.wait_for_line(r"Spare worker set aside: 1 modules failed .*\[.installed_dep.\]", timeout=30)
        server.wait_for_line(r"Spare worker warm: \d+ modules in \d+ ms; left for after a change: \[.installed_dep.\]$", timeout=30)
        save_like_an_editor(layout.project / "project_settings.py", 'GREETING = "bonjour"\n')
        wait_for_body(server.url, "v1 greeting=bonjour")
    finally:
        server.stop()


def test_installed_paths_that_link_into_the_project_are_the_projects_code(layout: Layout) -> None:
    # A module and a package installed as symbolic links to the project's files (a hand-made editable install):
    # their real files are under the watched root, so warming never imports them.
    (layout.project / "conf.py").write_text("X = 1\n")
    (layout.project / "pkgdir").mkdir()
    (layout.project / "pkgdir" / "__init__.py").write_text("")
    (layout.project / "pkgdir" / "mod.py").write_text("Y = 1\n")
    (layout.installed / "linked_conf.py").symlink_to(layout.project / "conf.py")
    (layout.installed / "linkedpkg").symlink_to(layout.project / "pkgdir", target_is_directory=True)
    dependency = "import linked_conf\nimport linkedpkg.mod\n\ndef describe():\n    return f'conf={linked_conf.X} pkg={linkedpkg.mod.Y}'\n"
    save_like_an_editor(layout.installed / "installed_dep.py", dependency)
    layout.write_app("v1")
    server = layout.start()
    try:
        assert get_text(server.url) == "v1 conf=1 pkg=1"
        left = server.wait_for_line(r"Spare worker warm: \d+ modules in \d+ ms; left for after a change: (.*)$", timeout=30).group(1)
        assert left == "['installed_dep', 'linked_conf', 'linkedpkg', 'linkedpkg.mod']", server.output
        save_like_an_editor(layout.project / "pkgdir" / "mod.py", "Y = 2\n")
        wait_for_body(server.url, "v1 conf=1 pkg=2")
        server.wait_for_line(r"Reloaded in \d+ ms \(changed: pkgdir/mod\.py; warm: \d+ modules\)")
    finally:
        server.stop()


def test_reload_cold_warms_nothing(layout: Layout) -> None:
    layout.write_dependency("1")
    layout.write_app("v1")
    server = layout.start("--reload-cold")
    try:
        layout.write_app("v2")
        wait_for_body(server.url, "v2 dep=1")
        line = server.wait_for_line(r"Reloaded in \d+ ms \(changed: main\.py.*\)").group(0)
        assert "warm" not in line
        assert server.count("Spare worker warm") == 0
    finally:
        server.stop()


def test_installed_modules_reading_the_environment_see_the_env_file(layout: Layout) -> None:
    # Read at import, as settings libraries do: warming must happen with the env file applied, as a cold start imports.
    save_like_an_editor(
        layout.installed / "installed_dep.py", 'import os\nGREETING = os.environ.get("GREETING")\ndef describe():\n    return GREETING\n'
    )
    save_like_an_editor(layout.project / ".env", "GREETING=hello\n")
    layout.write_app("v1")
    server = layout.start()
    try:
        assert get_text(server.url) == "v1 hello"
        server.wait_for_line(r"Spare worker warm: \d+ modules", timeout=30)
        layout.write_app("v2")
        wait_for_body(server.url, "v2 hello")
        server.wait_for_line(r"Reloaded in \d+ ms \(changed: main\.py; warm: \d+ modules\)")
        # An edited env file makes the warm state stale: that reload starts cold, with the new value.
        server.wait_for_line(r"Spare worker warm", count=2, timeout=30)
        save_like_an_editor(layout.project / ".env", "GREETING=bonjour\n")
        wait_for_body(server.url, "v2 bonjour")
        server.wait_for_line(r"\.env changed since the spare worker loaded it")
    finally:
        server.stop()


def test_a_package_that_fails_while_warming_leaves_nothing_behind(layout: Layout) -> None:
    # pkg.mid imports its submodule, then fails without the app's set-up (as a Django app reading settings does).
    # Had warming kept the orphaned pkg.mid.leaf, `import pkg.mid.leaf as leaf` would fail after GO (Wagtail did).
    package = layout.installed / "pkg"
    (package / "mid").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mid" / "__init__.py").write_text(
        'import os\nfrom pkg.mid.leaf import NAME\nif not os.environ.get("APP_READY"):\n    raise RuntimeError("not set up")\n'
    )
    (package / "mid" / "leaf.py").write_text('NAME = "leaf"\n')
    app = APP.replace("import installed_dep", 'import os\nos.environ["APP_READY"] = "1"\nimport pkg.mid.leaf as installed_leaf')
    app = app.replace("installed_dep.describe()", "installed_leaf.NAME")
    save_like_an_editor(layout.project / "main.py", app.format(version="v1"))
    server = layout.start()
    try:
        assert get_text(server.url) == "v1 leaf"
        server.wait_for_line(r"Spare worker warm: \d+ modules", timeout=30)
        save_like_an_editor(layout.project / "main.py", app.format(version="v2"))
        wait_for_body(server.url, "v2 leaf")
        server.wait_for_line(r"Reloaded in \d+ ms \(changed: main\.py; warm: \d+ modules\)")
    finally:
        server.stop()


def test_a_lazy_package_that_cached_a_failed_step_never_serves_a_second_copy(layout: Layout) -> None:
    # lazypkg resolves Base on first access (PEP 562) and caches it, as pydantic does for BaseModel. plugin reaches
    # for the project's settings, so it fails while warming, after lazypkg had cached Base from lazypkg.core: had
    # that step been undone and the spare served, lazypkg.Base would be a copy of a class lazypkg.core no longer
    # has (Wagtail's reload failed so, with a metaclass conflict). A cold start has one Base.
    package = layout.installed / "lazypkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import importlib\n\ndef __getattr__(name):\n"
        "    if name != 'Base':\n        raise AttributeError(name)\n"
        "    value = importlib.import_module('lazypkg.core').Base\n    globals()[name] = value\n    return value\n"
    )
    (package / "core.py").write_text("class Base:\n    pass\n")
    # Without the project's settings, plugin touches lazypkg.Base on its way to failing (a cold start never does, so
    # lazypkg.core is imported after plugin there, and comes after it in the warm set too).
    (layout.installed / "plugin.py").write_text(
        "try:\n    import project_settings\nexcept ImportError:\n    from lazypkg import Base\n    raise\n"
    )
    save_like_an_editor(layout.project / "project_settings.py", "READY = True\n")
    app = APP.replace("import installed_dep", "import lazypkg\nimport plugin\nimport lazypkg.core")
    app = app.replace("installed_dep.describe()", "lazypkg.Base is lazypkg.core.Base")
    save_like_an_editor(layout.project / "main.py", app.format(version="v1"))
    server = layout.start()
    try:
        assert get_text(server.url) == "v1 True"
        # The first spare finds plugin failing and is set aside; the next one leaves plugin for after GO.
        server.wait_for_line(r"Spare worker set aside: 1 modules failed to import before the app's set-up \(\['plugin'\]\)", timeout=30)
        server.wait_for_line(r"Spare worker warm: \d+ modules in \d+ ms; left for after a change: \['plugin'\]$", timeout=30)
        save_like_an_editor(layout.project / "main.py", app.format(version="v2"))
        wait_for_body(server.url, "v2 True")
        server.wait_for_line(r"Reloaded in \d+ ms \(changed: main\.py; warm: \d+ modules\)")
    finally:
        server.stop()


def test_the_next_start_warms_with_what_the_last_one_learned(layout: Layout) -> None:
    # installed_dep reaches for the project's settings: the first run learns that with a spare set aside.
    save_like_an_editor(layout.installed / "installed_dep.py", PLUGIN_DEPENDENCY)
    save_like_an_editor(layout.project / "project_settings.py", 'GREETING = "hello"\n')
    layout.write_app("v1")
    first = layout.start()
    try:
        first.wait_for_line(r"Spare worker set aside: 1 modules failed .*\['installed_dep'\]", timeout=30)
        first.wait_for_line(r"Spare worker warm: \d+ modules in \d+ ms; left for after a change: \['installed_dep'\]$", timeout=30)
    finally:
        first.stop()
    # The next start's first spare is fit at once, and the first save is warm.
    second = layout.start()
    try:
        second.wait_for_line(r"Spare worker warm: \d+ modules in \d+ ms; left for after a change: \['installed_dep'\]$", timeout=30)
        assert second.count("Spare worker set aside") == 0
        layout.write_app("v2")
        wait_for_body(second.url, "v2 greeting=hello")
        second.wait_for_line(r"Reloaded in \d+ ms \(changed: main\.py; warm: \d+ modules\)")
    finally:
        second.stop()
