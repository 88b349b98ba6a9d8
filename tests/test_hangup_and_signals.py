"""Signals a new user's terminal and tools send (issue 14): a closed terminal, SIGTERM to the whole process group.

The hang-up runs asgidev on a real pseudo-terminal and closes its master side,
as closing a terminal window does; every process of that session must end and
the port must be free.
"""

from __future__ import annotations

import os
import pty
import re
import shutil
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess
from tests.waiting import wait_until

LIFESPAN_APP = """
import os, sys

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                print(f"startup ran in {os.getpid()}", file=sys.stderr, flush=True)
                await send({"type": "lifespan.startup.complete"})
            else:
                print(f"shutdown ran in {os.getpid()}", file=sys.stderr, flush=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"up"})
"""

URL = re.compile(rb"Starting ASGI server at (http://\S+?)/")


def session_processes(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


def is_port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def read_until(master: int, pattern: re.Pattern[bytes], timeout: float = 30.0) -> re.Match[bytes]:
    import select

    seen = b""

    def read_match() -> re.Match[bytes] | None:
        nonlocal seen
        if select.select([master], [], [], 0.5)[0]:  # the wait between two looks
            try:
                seen += os.read(master, 65536)
            except OSError:
                pytest.fail(f"terminal closed; saw:\n{seen.decode(errors='replace')}")
        return pattern.search(seen)

    return wait_until(
        read_match, timeout, interval=0, what=f"{pattern.pattern!r} on the terminal", detail=lambda: seen.decode(errors="replace")
    )


@pytest.mark.parametrize(("reload", "shell"), [("--reload", False), ("--no-reload", False), ("--reload", True)])
def test_closing_the_terminal_ends_every_process_and_frees_the_port(tmp_path: Path, reload: str, shell: bool) -> None:
    """``shell``: typed at an interactive bash, the usual case, where bash leads the session and forwards the hang-up."""
    (tmp_path / "main.py").write_text(LIFESPAN_APP)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "PS1": "$ "}
    command = [sys.executable, "-m", "asgidev", "main:app", "--port", "0", reload]
    if shell and shutil.which("bash") is None:
        pytest.skip("no bash")
    pid, master = pty.fork()
    if pid == 0:  # the child: a session leader whose controlling terminal is the pty
        os.chdir(tmp_path)
        if shell:
            os.execve(
                "/bin/bash" if os.path.exists("/bin/bash") else str(shutil.which("bash")), ["bash", "--norc", "--noprofile", "-i"], env
            )
        os.execve(sys.executable, command, env)
    if shell:
        os.write(master, (" ".join(command) + "\n").encode())
    try:
        url = read_until(master, URL).group(1).decode()
        assert httpx.get(url).text == "up"
        port = int(url.rsplit(":", 1)[1])
        assert len(session_processes(pid)) >= (2 if reload == "--reload" else 1)
        os.close(master)  # the terminal window closes
        master = -1
        wait_until(lambda: not session_processes(pid), timeout=15)
        assert is_port_free(port)
    finally:
        if master >= 0:
            os.close(master)
        for leftover in session_processes(pid):
            os.kill(leftover, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_kill_hup_without_a_terminal_still_reloads(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(LIFESPAN_APP)
    proc = ServerProcess.asgidev(["main:app", "--port", "0"], cwd=tmp_path)
    try:
        proc.wait_started()
        proc.process.send_signal(signal.SIGHUP)
        proc.wait_for_line(r"Reloaded in \d+ ms \(changed: SIGHUP\)")
    finally:
        proc.stop()


@pytest.mark.parametrize("how", ["group", "like-timeout"])
def test_sigterm_to_the_process_group_shuts_down_once(tmp_path: Path, how: str) -> None:
    (tmp_path / "main.py").write_text(LIFESPAN_APP)
    for _ in range(3):
        proc = ServerProcess.asgidev(["main:app", "--port", "0"], cwd=tmp_path, new_session=True)
        try:
            url = proc.wait_started()
            assert httpx.get(url).text == "up"
            if how == "like-timeout":
                # GNU timeout signals its child, then the child's whole group: a second
                # SIGTERM (once the first is handled; two pending at once would merge into one).
                os.kill(proc.process.pid, signal.SIGTERM)
                proc.wait_for_line("Shutting down")
            os.killpg(proc.process.pid, signal.SIGTERM)
            assert proc.wait_exit() == 0
        finally:
            proc.stop()
        output = proc.output
        assert "restarting" not in output and "Second interrupt" not in output, output
        assert proc.count("startup ran") == 1, output
        assert proc.count("shutdown ran") == 1, output
