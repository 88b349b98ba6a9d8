"""The supervisor is its workers' subreaper (supervisor/subreaper.py): what an app leaves behind is collected.

A real server, a real app that starts a real subprocess and is reloaded away
while it runs: the process becomes the supervisor's child, and once it exits
no zombie stays.
"""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess, save_like_an_editor
from tests.waiting import wait_until

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="subreapers are Linux's")

APP = textwrap.dedent(
    """
    import subprocess, sys

    VERSION = {version!r}
    LEFT_BEHIND = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1.5)"])

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = f"{{VERSION}} {{LEFT_BEHIND.pid}}".encode()
        await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}})
        await send({{"type": "http.response.body", "body": body}})
    """
)


def parent_and_state(pid: int) -> tuple[int, str] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), fields[0]


def test_a_process_an_old_worker_left_is_collected_when_it_exits(tmp_path: Path) -> None:
    save_like_an_editor(tmp_path / "app.py", APP.format(version="v1"))
    server = ServerProcess.asgidev(["app:app", "--port", "0"], cwd=tmp_path)
    try:
        server.wait_started()
        left_behind = int(httpx.get(server.url, timeout=10).text.split()[1])
        save_like_an_editor(tmp_path / "app.py", APP.format(version="v2"))
        wait_until(lambda: httpx.get(server.url, timeout=10).text.startswith("v2 "), 20)
        # The worker that started it has exited: the supervisor is its parent now, not init.
        wait_until(lambda: (parent_and_state(left_behind) or (0, ""))[0] == server.process.pid, 10)
        # It exits 1.5 s after it started; then the supervisor collects it: no zombie stays.
        wait_until(lambda: parent_and_state(left_behind) is None, 10)
        time.sleep(0.2)
        assert server.process.poll() is None
    finally:
        server.stop()
