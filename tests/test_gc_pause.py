"""The cyclic garbage collector waits while a worker loads code (gc_pause.py), and runs once the app serves.

Real subprocesses: an installed module and the app each record, at import,
whether the collector was running; the app answers with both and with the
collector's state while it serves. Both paths are covered: the first
worker's cold load, and a reload served by a spare that warmed the installed
module beforehand.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import httpx

from tests.server_process import ServerProcess, save_like_an_editor
from tests.test_warm_reload import Layout
from tests.waiting import wait_until

APP = textwrap.dedent(
    """
    import gc
    import recorded_dep

    COLLECTING_AT_IMPORT = gc.get_threshold()[0] > 0
    if {disable!r}:
        gc.disable()  # the app's own choice, which must outlast the pause
    VERSION = {version!r}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        frozen = "frozen" if gc.get_freeze_count() else "none frozen"
        now = gc.isenabled() and gc.get_threshold()[0] > 0
        body = f"{{VERSION}} dep:{{recorded_dep.COLLECTING_AT_IMPORT}} app:{{COLLECTING_AT_IMPORT}} now:{{now}} {{frozen}}"
        await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}})
        await send({{"type": "http.response.body", "body": body.encode()}})
    """
)

DEPENDENCY = "import gc\n\nCOLLECTING_AT_IMPORT = gc.get_threshold()[0] > 0\n"


def _start(root: Path, *extra: str, disable: bool = False) -> ServerProcess:
    layout = Layout(root)  # the warm-reload tests' project and installed-packages directories
    (layout.installed / "recorded_dep.py").write_text(DEPENDENCY)
    save_like_an_editor(layout.project / "main.py", APP.format(version="v1", disable=disable))
    return layout.start(*extra)


def _body(server: ServerProcess) -> str:
    return httpx.get(server.url, timeout=10).text


def test_code_loads_with_the_collector_paused_and_the_app_serves_with_it_running(tmp_path: Path) -> None:
    server = _start(tmp_path)
    try:
        assert _body(server) == "v1 dep:False app:False now:True frozen"
        # The next worker is a spare that imported recorded_dep while warming: paused there too.
        server.wait_for_line(r"Spare worker warm: \d+ modules")
        save_like_an_editor(tmp_path / "project" / "main.py", APP.format(version="v2", disable=False))
        wait_until(lambda: _body(server).startswith("v2"), 20)
        assert _body(server) == "v2 dep:False app:False now:True frozen"
    finally:
        server.stop()


def test_without_reload_the_app_loads_with_the_collector_paused_too(tmp_path: Path) -> None:
    server = _start(tmp_path, "--no-reload")
    try:
        assert _body(server) == "v1 dep:False app:False now:True frozen"
    finally:
        server.stop()


def test_an_app_that_turns_the_collector_off_at_import_keeps_it_off(tmp_path: Path) -> None:
    server = _start(tmp_path, "--no-reload", disable=True)
    try:
        assert _body(server) == "v1 dep:False app:False now:False frozen"
    finally:
        server.stop()
