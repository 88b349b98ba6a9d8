"""--loop auto|asyncio|uvloop: every process runs the loop chosen, the banner names it, a missing uvloop is one line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import asgidev
from asgidev.config import Config
from asgidev.errors import ConfigError
from tests.server_process import ServerProcess

# The app answers with the module of the loop it runs on: 'uvloop' or 'asyncio'.
LOOP_APP = """
import asyncio

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    module = type(asyncio.get_running_loop()).__module__.split(".")[0]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": module.encode()})
"""

SOURCE = str(Path(asgidev.__file__).resolve().parent.parent)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "loopapp.py").write_text(LOOP_APP)
    return tmp_path


@pytest.fixture
def without_uvloop(tmp_path: Path) -> dict[str, str]:
    """An environment in which ``import uvloop`` fails for real, in every process asgidev starts."""
    shim = tmp_path / "shim" / "uvloop"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError(\"No module named 'uvloop' (hidden by the test)\")\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(shim.parent), SOURCE]), "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("reload", ["--reload", "--no-reload"])
def test_loop_option_runs_that_loop(project: Path, loop: str, reload: str) -> None:
    proc = ServerProcess.asgidev(["loopapp:app", "--port", "0", reload, "--loop", loop], cwd=project)
    try:
        proc.wait_started()
        proc.wait_for_line(rf"^Event loop: {loop}\.$")
        assert httpx.get(proc.url).text == loop
    finally:
        proc.stop()


def test_auto_picks_uvloop_when_installed(project: Path) -> None:
    proc = ServerProcess.asgidev(["loopapp:app", "--port", "0"], cwd=project)
    try:
        proc.wait_started()
        proc.wait_for_line(r"^Event loop: uvloop\.$")
        assert httpx.get(proc.url).text == "uvloop"
    finally:
        proc.stop()


def test_uvloop_missing_is_one_line(project: Path, without_uvloop: dict[str, str]) -> None:
    for reload in ("--reload", "--no-reload"):
        done = subprocess.run(
            [sys.executable, "-m", "asgidev", "loopapp:app", "--port", "0", reload, "--loop", "uvloop"],
            cwd=project,
            env=without_uvloop,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 1
        assert done.stderr.strip().splitlines() == [
            "Error: --loop uvloop: uvloop is not installed. Install it (pip install 'asgidev[fast]') or use --loop auto or --loop asyncio."
        ]
        assert "Traceback" not in done.stdout + done.stderr


def test_auto_without_uvloop_runs_asyncio_and_says_how_to_get_it(project: Path, without_uvloop: dict[str, str]) -> None:
    proc = ServerProcess.asgidev(["loopapp:app", "--port", "0"], cwd=project, env=without_uvloop)
    try:
        proc.wait_started()
        proc.wait_for_line(r"^Event loop: asyncio \(uvloop is not installed; pip install 'asgidev\[fast\]' adds it\)\.$")
        assert httpx.get(proc.url).text == "asyncio"
    finally:
        proc.stop()


def test_unknown_loop_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Unknown event loop 'fast'"):
        Config(loop="fast")  # type: ignore[arg-type]


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_serve_in_thread_owns_its_loop(loop: str) -> None:
    from tests.apps import loop_module_app

    with asgidev.serve_in_thread(loop_module_app, loop=loop) as server:
        assert httpx.get(server.url).text == loop


def test_serve_cannot_choose_the_callers_loop() -> None:
    from tests.apps import loop_module_app

    async def main() -> None:
        with pytest.raises(ConfigError, match="caller's event loop"):
            async with asgidev.serve(loop_module_app, loop="uvloop"):
                pass
        async with asgidev.serve(loop_module_app, loop="asyncio") as server, httpx.AsyncClient() as client:
            assert (await client.get(server.url)).text == "asyncio"

    asyncio.run(main())
