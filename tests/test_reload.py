"""The reload supervisor, with real subprocesses, real file edits and real clients."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import textwrap
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess, is_process_gone, save_like_an_editor
from tests.waiting import wait_until

APP = textwrap.dedent(
    """
    import os

    VERSION = {version!r}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = f"{{VERSION}} {{os.getpid()}}".encode()
        await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}})
        await send({{"type": "http.response.body", "body": body}})
    """
)


def write_app(directory: Path, version: str) -> None:
    save_like_an_editor(directory / "app.py", APP.format(version=version))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_app(tmp_path, "v1")
    return tmp_path


@pytest.fixture
def server(project: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess.asgidev(["app:app", "--port", "0", "--timeout-graceful-shutdown", "2"], cwd=project)
    try:
        proc.wait_started()
        yield proc
    finally:
        proc.stop()


def get(url: str) -> httpx.Response:
    return httpx.get(url, timeout=10, headers={"Accept": "text/plain"})


def wait_for_body(url: str, prefix: str, timeout: float = 10.0) -> str:
    result: list[str] = []

    def check() -> bool:
        text = get(url).text
        result[:] = [text]
        return text.startswith(prefix)

    wait_until(check, timeout)
    return result[0]


def test_code_change_is_served_and_logged(server: ServerProcess, project: Path) -> None:
    assert get(server.url).text.startswith("v1 ")
    write_app(project, "v2")
    server.wait_for_line(r"Reloaded in \d+ ms \(changed: app\.py\)")
    assert get(server.url).text.startswith("v2 ")


@dataclass
class ClientLoad:
    """What clients requesting in a loop saw: answers, and anything that was not a 200."""

    served: int = 0
    failures: list[str] = field(default_factory=list)


@contextlib.contextmanager
def clients_in_a_loop(url: str, *, keep_alive: bool, threads: int = 4, verify: bool = True) -> Iterator[ClientLoad]:
    """Clients on threads requesting ``url`` back to back until the block ends.

    With ``keep_alive`` each reuses its connection across reloads; without, each
    request asks for ``Connection: close``, so new connections keep arriving.
    """
    load = ClientLoad()
    stop = threading.Event()
    headers = None if keep_alive else {"Connection": "close"}

    def loop() -> None:
        with httpx.Client(timeout=10, verify=verify) as client:
            while not stop.is_set():
                try:
                    response = client.get(url, headers=headers)
                    if response.status_code != 200:
                        load.failures.append(f"status {response.status_code}")
                    load.served += 1
                except httpx.HTTPError as exc:
                    load.failures.append(repr(exc))

    running = [threading.Thread(target=loop) for _ in range(threads)]
    for t in running:
        t.start()
    try:
        yield load
    finally:
        stop.set()
        for t in running:
            t.join(30)


def test_no_failed_requests_through_reloads(server: ServerProcess, project: Path) -> None:
    with clients_in_a_loop(server.url, keep_alive=True) as load:
        for n in range(2, 7):
            write_app(project, f"v{n}")
            server.wait_for_line(r"Reloaded in", count=n - 1)
            wait_for_body(server.url, f"v{n} ")
    assert load.served > 50
    assert load.failures == []


def test_no_connection_reset_by_reloads_under_new_connections(server: ServerProcess) -> None:
    # Connections keep arriving while workers stop: one accepted just as its
    # worker stops must still be answered (by the new worker).
    with clients_in_a_loop(server.url, keep_alive=False) as load:
        for n in range(1, 16):
            server.process.send_signal(signal.SIGHUP)
            server.wait_for_line(r"Reloaded in", count=n)
    assert load.served > 50
    assert load.failures == []


def test_https_reloads_fail_no_request(tmp_path: Path) -> None:
    # A TLS session cannot be handed to the next worker: the old worker keeps an
    # idle connection a moment (TLS_SHUTDOWN_LINGER_S) and answers the request
    # that comes with Connection: close, so busy keep-alive clients reconnect
    # cleanly; one accepted just as its worker stops is answered by that worker.
    # New connections keep arriving meanwhile.
    write_app(tmp_path, "v1")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "XDG_CACHE_HOME": str(tmp_path / "cache")}
    server = ServerProcess.asgidev(["app:app", "--port", "0", "--https"], cwd=tmp_path, env=env)
    try:
        url = server.wait_started()
        assert url.startswith("https://")
        with httpx.Client(verify=False, timeout=10) as keep_alive:
            assert keep_alive.get(url).status_code == 200
            with (
                clients_in_a_loop(url, keep_alive=False, threads=2, verify=False) as load,
                clients_in_a_loop(url, keep_alive=True, threads=2, verify=False) as busy,
            ):
                for n in range(1, 9):
                    server.process.send_signal(signal.SIGHUP)
                    server.wait_for_line(r"Reloaded in", count=n)
                    # The idle keep-alive connection: answered by the old worker (with Connection: close) or a new one.
                    assert keep_alive.get(url).status_code == 200
        assert load.served > 20 and busy.served > 20
        assert load.failures == [] and busy.failures == []
    finally:
        server.stop()


def test_broken_code_shows_error_page_then_recovers(server: ServerProcess, project: Path) -> None:
    (project / "app.py").write_text("def broken(:\n")
    server.wait_for_line(r"Reload failed")
    plain = get(server.url)
    assert plain.status_code == 500
    assert "SyntaxError" in plain.text
    assert "app.py" in plain.text
    html = httpx.get(server.url, headers={"Accept": "text/html"})
    assert html.status_code == 500
    assert html.headers["content-type"].startswith("text/html")
    assert "SyntaxError" in html.text
    assert "<pre>" in html.text
    assert server.count(r"SyntaxError") >= 1
    write_app(project, "v3")
    server.wait_for_line(r"Reloaded in")
    assert get(server.url).text.startswith("v3 ")


def test_broken_at_first_start(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("raise RuntimeError('no database configured')\n")
    proc = ServerProcess.asgidev(["app:app", "--port", "0"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        response = get(url)
        assert response.status_code == 500
        assert "no database configured" in response.text
        write_app(tmp_path, "fixed")
        proc.wait_for_line(r"Reloaded in")
        assert get(url).text.startswith("fixed ")
    finally:
        proc.stop()


def test_killed_worker_is_respawned(server: ServerProcess) -> None:
    pid = int(get(server.url).text.split()[1])
    os.kill(pid, signal.SIGKILL)
    server.wait_for_line(r"Worker was killed by SIGKILL; restarting it")
    new_pid = int(wait_for_body(server.url, "v1 ").split()[1])
    assert new_pid != pid


def test_worker_crashing_at_start_shows_error_page(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("import os\nos._exit(3)\n")
    proc = ServerProcess.asgidev(["app:app", "--port", "0"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        proc.wait_for_line(r"exited with status 3 while starting")
        response = get(url)
        assert response.status_code == 500, (response.text, proc.lines)
        assert "exited with status 3" in response.text, (response.text, proc.lines)
        write_app(tmp_path, "ok")
        try:
            wait_for_body(url, "ok ")
        except TimeoutError:
            raise AssertionError("\n".join(proc.lines)) from None
    finally:
        proc.stop()


def test_burst_of_saves_gives_one_reload(server: ServerProcess, project: Path) -> None:
    for n in range(5):
        (project / f"mod{n}.py").write_text(f"X = {n}\n")
    server.wait_for_line(r"Reloaded in")
    write_app(project, "after")
    server.wait_for_line(r"Reloaded in", count=2)
    assert server.count(r"Changed: ") == 2


def test_ignored_files_do_not_reload(tmp_path: Path) -> None:
    write_app(tmp_path, "v1")
    proc = ServerProcess.asgidev(["app:app", "--port", "0", "--reload-exclude", "generated_*.py"], cwd=tmp_path)
    try:
        proc.wait_started()
        (tmp_path / "db.sqlite3").write_bytes(b"SQLite format 3\x00")
        (tmp_path / ".git").mkdir()
        (tmp_path / ".git" / "index.py").write_text("x = 1\n")
        (tmp_path / "__pycache__").mkdir(exist_ok=True)
        (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\x00")
        (tmp_path / ".app.py.swp").write_bytes(b"\x00")
        (tmp_path / "generated_models.py").write_text("X = 1\n")
        (tmp_path / "notes.txt").write_text("not a template\n")
        write_app(tmp_path, "v2")
        proc.wait_for_line(r"Reloaded in")
        assert proc.count(r"Changed: ") == 1
        assert proc.count(r"Changed: app\.py\.") == 1
    finally:
        proc.stop()


def test_templates_and_includes_reload(tmp_path: Path) -> None:
    write_app(tmp_path, "v1")
    (tmp_path / "templates").mkdir()
    proc = ServerProcess.asgidev(["app:app", "--port", "0", "--reload-include", "*.yaml"], cwd=tmp_path)
    try:
        proc.wait_started()
        (tmp_path / "templates" / "page.html").write_text("<p>hi</p>")
        proc.wait_for_line(r"Changed: templates/page\.html")
        proc.wait_for_line(r"Reloaded in")
        (tmp_path / "settings.yaml").write_text("a: 1\n")
        proc.wait_for_line(r"Changed: settings\.yaml")
    finally:
        proc.stop()


def test_sighup_reloads(server: ServerProcess) -> None:
    server.process.send_signal(signal.SIGHUP)
    server.wait_for_line(r"Reloaded in \d+ ms \(changed: SIGHUP\)")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["SIGINT", "SIGTERM", "SIGKILL"])
def test_no_orphans_and_port_freed(project: Path, sig: int) -> None:
    proc = ServerProcess.asgidev(["app:app", "--port", "0"], cwd=project)
    url = proc.wait_started()
    port = int(url.rsplit(":", 1)[1])
    worker_pid = int(get(url).text.split()[1])
    code = proc.stop(sig)
    if sig != signal.SIGKILL:
        assert code == 0
    wait_until(lambda: is_process_gone(worker_pid), timeout=10)
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", port))  # the port is free again
    finally:
        probe.close()


FIRST_WORKER_APP = """
import os, signal, sys

VERSION = {version!r}
INHERITED_PIPE = {inherited_pipe!r}

def _open_files():
    return {{os.readlink(f"/proc/self/fd/{{n}}") for n in os.listdir("/proc/self/fd") if os.path.exists(f"/proc/self/fd/{{n}}")}}

async def app(scope, receive, send):
    facts = [
        os.getppid(),
        sys.argv,
        sys.path[:2],
        f"utf8={{sys.flags.utf8_mode}}",
        f"ignores-ctrl-c={{signal.getsignal(signal.SIGINT) == signal.SIG_IGN}}",
        f"holds-inherited-pipe={{INHERITED_PIPE in _open_files()}}",
        f"app-dir-env={{os.environ.get('ASGIDEV_APP_DIR')}}",
    ]
    body = VERSION + " " + " ".join(str(f) for f in facts)
    await send({{"type": "http.response.start", "status": 200, "headers": []}})
    await send({{"type": "http.response.body", "body": body.encode()}})
"""


@pytest.mark.parametrize("launcher", ["python -m asgidev", "console script"])
def test_first_worker_looks_like_later_ones(tmp_path: Path, launcher: str) -> None:
    # The first worker is forked before the command line is parsed (supervisor/spawn.py);
    # later ones are fresh interpreters. The app must not be able to tell them apart, and
    # neither may hold a descriptor asgidev inherited from whoever started it.
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    pipe = f"pipe:[{os.fstat(write_end).st_ino}]"
    (tmp_path / "src").mkdir()
    app_file = tmp_path / "src" / "app.py"
    save_like_an_editor(app_file, FIRST_WORKER_APP.format(version="first", inherited_pipe=pipe))
    command = ["-m", "asgidev"] if launcher == "python -m asgidev" else [shutil.which("asgidev") or "missing"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    args = ["-X", "utf8", *command, "app:app", "--app-dir", "src", "--port", "0"]
    proc = ServerProcess(args, cwd=tmp_path, env=env, pass_fds=(write_end,))
    try:
        url = proc.wait_started()
        first = get(url).text.split(" ", 1)[1]
        save_like_an_editor(app_file, FIRST_WORKER_APP.format(version="second", inherited_pipe=pipe))
        second = wait_for_body(url, "second ").split(" ", 1)[1]
        assert first == second
        assert first.startswith(f"{proc.process.pid} ")  # both are children of the supervisor
        assert "worker.py" in first
        # --app-dir first, then the working directory, as -m puts it.
        assert f"[{str(tmp_path / 'src')!r}, {str(tmp_path)!r}]" in first
        assert "utf8=1" in first  # the interpreter's options carry over
        assert "ignores-ctrl-c=True" in first  # Ctrl+C is the supervisor's to handle
        assert "holds-inherited-pipe=False" in first
        assert "app-dir-env=None" in first
    finally:
        proc.stop()
        os.close(read_end)
        os.close(write_end)


def test_reloads_when_started_with_sigchld_ignored(project: Path) -> None:
    # A parent that ignores SIGCHLD passes that on through exec: the kernel then
    # reaps asgidev's workers itself, and waiting for one finds no child.
    launcher = (
        "import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); "
        "os.execv(sys.executable, [sys.executable, '-m', 'asgidev', *sys.argv[1:]])"
    )
    proc = ServerProcess(["-c", launcher, "app:app", "--port", "0"], cwd=project)
    try:
        url = proc.wait_started()
        first_pid = get(url).text.split()[1]
        proc.process.send_signal(signal.SIGHUP)
        proc.wait_for_line(r"Reloaded in")
        wait_until(lambda: get(url).text.split()[1] != first_pid)
    finally:
        code = proc.stop()
    assert code == 0, proc.output
    assert "Traceback" not in proc.output


def test_under_a_profiler_the_first_worker_is_a_fresh_interpreter(tmp_path: Path) -> None:
    # Under a profiler (or debugger, or coverage) the first worker is not forked: the
    # child would inherit the hooks, and the profiler, catching the child's exit,
    # would write its report from the worker too (pdb would even restart asgidev in it).
    (tmp_path / "app.py").write_text(
        "async def app(scope, receive, send):\n"
        "    cmdline = open('/proc/self/cmdline', 'rb').read().replace(b'\\0', b' ')\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': cmdline})\n"
    )
    args = ["-m", "cProfile", "-o", str(tmp_path / "profile.out"), "-m", "asgidev", "app:app", "--port", "0"]
    proc = ServerProcess(args, cwd=tmp_path)
    try:
        url = proc.wait_started()
        assert "-m asgidev.supervisor.worker" in get(url).text
    finally:
        code = proc.stop()
    assert code == 0, proc.output
    assert (tmp_path / "profile.out").exists()


HOLDING_APP = textwrap.dedent(
    """
    import asyncio
    import os

    VERSION = {version!r}

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/hold":
            # A response that goes on until the test creates the file "release".
            await send({{"type": "http.response.start", "status": 200, "headers": []}})
            await send({{"type": "http.response.body", "body": b"held ", "more_body": True}})
            while not os.path.exists("release"):
                await asyncio.sleep(0.01)
            await send({{"type": "http.response.body", "body": b"released"}})
            return
        body = f"{{VERSION}} {{os.getpid()}}".encode()
        await send({{"type": "http.response.start", "status": 200, "headers": []}})
        await send({{"type": "http.response.body", "body": body}})
    """
)


def served_version(url: str, version: str) -> str | None:
    """The body of ``url`` when it comes from ``version`` of the app, else None."""
    body = get(url).text
    return body if body.startswith(version) else None


def test_a_retiring_worker_yields_the_cpu_to_the_new_one(tmp_path: Path) -> None:
    save_like_an_editor(tmp_path / "app.py", HOLDING_APP.format(version="v1"))
    proc = ServerProcess.asgidev(["app:app", "--port", "0", "--timeout-graceful-shutdown", "30"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        old_pid = int(get(url).text.split()[1])
        niceness = os.getpriority(os.PRIO_PROCESS, old_pid)
        port = int(url.rsplit(":", 1)[1])
        # A request in flight keeps the old worker in its graceful shutdown after the reload.
        with socket.create_connection(("127.0.0.1", port)) as held:
            held.sendall(b"GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert b"held" in held.recv(1024)
            save_like_an_editor(tmp_path / "app.py", HOLDING_APP.format(version="v2"))
            new_pid = int(wait_until(lambda: served_version(url, "v2")).split()[1])
            assert new_pid != old_pid and not is_process_gone(old_pid)
            assert os.getpriority(os.PRIO_PROCESS, old_pid) == min(19, niceness + 10)
            assert os.getpriority(os.PRIO_PROCESS, new_pid) == niceness
            (tmp_path / "release").touch()
            assert b"released" in wait_until(lambda: held.recv(1024))
        wait_until(lambda: is_process_gone(old_pid))
    finally:
        proc.stop()
