"""What a new user types first (issue 14): ADDRPORT without APP, app discovery, WSGI apps, messages.

Every test runs real ``asgidev`` subprocesses against real files and real frameworks.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.django_helpers import project_env
from tests.server_process import ServerProcess

HELLO = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello from main"})
"""

FLASK_APP = """
from flask import Flask

app = Flask(__name__)


@app.get("/items/<name>")
def item(name):
    return {"name": name}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_cli(*args: str, cwd: Path, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgidev", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def main_project(tmp_path: Path) -> Path:
    (tmp_path / "main.py").write_text(HELLO)
    return tmp_path


def has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize("shape", ["{port}", "127.0.0.1:{port}", "[::1]:{port}", "localhost:{port}"])
@pytest.mark.parametrize("reload", ["--reload", "--no-reload"])
def test_a_lone_addrport_is_the_address(main_project: Path, shape: str, reload: str) -> None:
    if "::1" in shape and not has_ipv6_loopback():
        pytest.skip("no IPv6 loopback")
    port = free_port()
    proc = ServerProcess.asgidev([shape.format(port=port), reload], cwd=main_project)
    try:
        url = proc.wait_started()
        assert url.endswith(f":{port}")
        assert httpx.get(url).text == "hello from main"
        assert "serving main:app" in proc.output
        assert "Could not import" not in proc.output
    finally:
        proc.stop()


def test_a_lone_addrport_in_a_django_project(tmp_path: Path, migrated_project_template: Path) -> None:
    import shutil

    project = tmp_path / "project"
    shutil.copytree(migrated_project_template, project)
    port = free_port()
    proc = ServerProcess(["-m", "asgidev", str(port)], project, project_env())
    try:
        url = proc.wait_started()
        assert url.endswith(f":{port}")
        assert "Found a Django project" in proc.output
        assert httpx.get(url + "/polls/").status_code == 200
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("files", "spec"),
    [
        ({"main.py": HELLO}, "main:app"),
        ({"app.py": HELLO.replace("def app", "def application")}, "app:application"),
        ({"app/main.py": HELLO, "app/__init__.py": ""}, "app.main:app"),
        # main.py without an app attribute is skipped for the next candidate.
        ({"main.py": "x = 1\n", "asgi.py": HELLO}, "asgi:app"),
    ],
)
def test_no_app_discovers_it_like_fastapi_dev(tmp_path: Path, files: dict[str, str], spec: str) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    proc = ServerProcess.asgidev(["--port", "0"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        assert httpx.get(url).text == "hello from main"
        assert f"No APP given: found {spec} in " in proc.output
        assert f"serving {spec}" in proc.output
    finally:
        proc.stop()


def test_module_alone_is_named_in_full_in_the_banner(main_project: Path) -> None:
    proc = ServerProcess.asgidev(["main", "--port", "0", "--no-reload"], cwd=main_project)
    try:
        proc.wait_started()
        assert "serving main:app" in proc.output
    finally:
        proc.stop()


@pytest.mark.parametrize("reload", ["--reload", "--no-reload"])
def test_a_flask_app_is_served_through_the_wsgi_adapter(tmp_path: Path, reload: str) -> None:
    (tmp_path / "web.py").write_text(FLASK_APP)
    proc = ServerProcess.asgidev(["web:app", "--port", "0", reload], cwd=tmp_path)
    try:
        url = proc.wait_started()
        assert "web:app is a WSGI app: serving it through a2wsgi." in proc.output
        response = httpx.get(url + "/items/spam")
        assert response.status_code == 200
        assert response.json() == {"name": "spam"}
        proc.wait_for_line(r'"GET /items/spam HTTP/1\.1" 200')
        assert "TypeError" not in proc.output
    finally:
        proc.stop()


def test_a_wsgi_app_without_the_adapter_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "web.py").write_text(FLASK_APP)
    # A directory shadowing a2wsgi stands for an environment where it is not installed.
    blocker = tmp_path / "blocker"
    (blocker / "a2wsgi").mkdir(parents=True)
    (blocker / "a2wsgi" / "__init__.py").write_text("raise ImportError('a2wsgi is not installed')\n")
    env = {**project_env(), "PYTHONPATH": f"{blocker}:{project_env().get('PYTHONPATH', '')}"}
    result = subprocess.run(
        [sys.executable, "-m", "asgidev", "web:app", "--no-reload", "--port", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "is a WSGI app" in lines[0] and "pip install 'asgidev[wsgi]'" in lines[0]


SSE_APP = """
import asyncio

from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route


async def events(request):
    async def stream():
        n = 0
        while True:
            yield f"data: {n}\\n\\n"
            n += 1
            await asyncio.sleep(0.01)

    return StreamingResponse(stream(), media_type="text/event-stream")


async def upload(request):
    async for _ in request.stream():
        pass
    return StreamingResponse(iter([b"done"]))


app = Starlette(routes=[Route("/events", events), Route("/upload", upload, methods=["POST"])])
"""


def test_a_client_leaving_a_stream_is_no_app_error(tmp_path: Path) -> None:
    (tmp_path / "sse.py").write_text(SSE_APP)
    proc = ServerProcess.asgidev(["sse:app", "--port", "0", "--no-reload"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        with httpx.Client() as client:
            for _ in range(3):
                with client.stream("GET", url + "/events", headers={"connection": "close"}) as response:
                    assert next(response.iter_bytes()).startswith(b"data: 0")
        # A client leaving in the middle of its upload: Starlette raises ClientDisconnect.
        with socket.create_connection((url.split("//")[1].rsplit(":", 1)[0], int(url.rsplit(":", 1)[1]))) as raw:
            raw.sendall(b"POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)
        proc.wait_for_line(r'"GET /events HTTP/1\.1" 200 \d+ [\d.]+ms 127\.0\.0\.1:\d+ \(client disconnected\)$', count=3)
        # Every line the server prints is logged after the previous one; a final request orders the check.
        assert httpx.get(url + "/nowhere").status_code == 404
        proc.wait_for_line(r'"GET /nowhere HTTP/1\.1" 404')
        assert "ERROR" not in proc.output and "Traceback" not in proc.output, proc.output
    finally:
        proc.stop()


@pytest.mark.parametrize(("app", "message"), [("nope:app", "Could not import module 'nope'"), ("main:nope", "has no attribute 'nope'")])
def test_a_mistyped_app_is_the_command_lines_fault_said_after_the_banner(main_project: Path, app: str, message: str) -> None:
    proc = ServerProcess.asgidev([app, "--port", "0"], cwd=main_project)
    try:
        url = proc.wait_started()
        line = proc.wait_for_line(message).string
        assert "Check APP on the command line" in line
        banner_at = next(i for i, text in enumerate(proc.lines) if "Starting ASGI server" in text)
        assert not any(message in text for text in proc.lines[:banner_at]), proc.output
        page = httpx.get(url, headers={"Accept": "text/html"})
        assert page.status_code == 500
        assert "The app named on the command line was not found" in page.text
        assert "Check APP on the command line" in page.text
        assert "Your code could not be loaded" not in page.text
    finally:
        proc.stop()


LITESTAR_APP = """
from litestar import Litestar, get


def connect():
    raise RuntimeError("no database at DATABASE_URL")


@get("/")
async def index() -> str:
    return "hi"


app = Litestar([index], on_startup=[connect])
"""

SHUTDOWN_RAISES = """
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise RuntimeError("pool already closed")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"up"})
"""


def test_a_litestar_startup_failure_is_a_summary_line_then_its_traceback(tmp_path: Path) -> None:
    (tmp_path / "lit.py").write_text(LITESTAR_APP)
    result = run_cli("lit:app", "--no-reload", "--port", "0", cwd=tmp_path)
    assert result.returncode == 1
    first, *rest = result.stderr.splitlines()
    assert first == "Error: Lifespan startup failed: RuntimeError: no database at DATABASE_URL."
    assert any('lit.py", line' in line for line in rest)


@pytest.mark.parametrize("reload", ["--reload", "--no-reload"])
def test_a_lifespan_shutdown_error_is_logged_as_shutdown(tmp_path: Path, reload: str) -> None:
    (tmp_path / "main.py").write_text(SHUTDOWN_RAISES)
    proc = ServerProcess.asgidev(["main:app", "--port", "0", reload], cwd=tmp_path)
    url = proc.wait_started()
    assert httpx.get(url).text == "up"
    proc.wait_for_line(r"Application startup complete\.")
    assert proc.stop() == 0
    output = proc.output
    assert "Lifespan shutdown failed (RuntimeError: pool already closed)" in output
    assert 'main.py", line' in output
    assert "startup failed" not in output


def test_messages_read_as_sentences(tmp_path: Path) -> None:
    (tmp_path / "settings_app.py").write_text("import os\nraise KeyError('set DATABASE_URL')\n")
    result = run_cli("settings_app:app", "--no-reload", "--port", "0", cwd=tmp_path)
    assert "set DATABASE_URL'. Fix the error in your code" in result.stderr
    help_text = run_cli("--help", cwd=tmp_path).stdout
    assert "(127.0.0.1)" not in help_text


def test_busy_port_hint_is_a_command_that_works(main_project: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_cli("main:app", str(port), "--no-reload", cwd=main_project)
        assert result.returncode == 1
        assert f"'asgidev main:app {port + 1}'" in result.stderr
        result = run_cli(str(port), "--no-reload", cwd=main_project)
        assert f"'asgidev {port + 1}'" in result.stderr
        assert "APP" not in result.stderr


def test_file_watching_failing_mid_session_is_said(main_project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    import shutil

    extra = tmp_path_factory.mktemp("watched")
    proc = ServerProcess.asgidev(
        ["main:app", "--port", "0", "--reload-dir", str(main_project), "--reload-dir", str(extra)], cwd=main_project
    )
    try:
        url = proc.wait_started()
        (extra / "helpers.py").write_text("X = 1\n")
        proc.wait_for_line(r"Reloaded in")
        shutil.rmtree(extra)
        line = proc.wait_for_line(r"File watching stopped").string
        assert "was removed" in line and "no longer reload" in line
        assert httpx.get(url).text == "hello from main"  # serving goes on
    finally:
        proc.stop()


def test_all_interfaces_warning_lists_this_machines_addresses(main_project: Path) -> None:
    interfaces = [name for name in os.listdir("/sys/class/net") if name != "lo"] if os.path.isdir("/sys/class/net") else []
    if not interfaces:
        pytest.skip("no network interface besides loopback")
    proc = ServerProcess.asgidev(["main:app", "0:0", "--no-reload"], cwd=main_project)
    try:
        port = int(proc.wait_started().rsplit(":", 1)[1])
        warning = proc.wait_for_line(r"reachable from the network").string
        hosts = re.findall(rf"http://([\d.]+):{port}/", warning)
        assert hosts, warning
        for host in hosts:  # each is an address of this machine: it can be bound
            with socket.socket() as probe:
                probe.bind((host, 0))
    finally:
        proc.stop()


def test_a_privileged_port_names_the_reason(main_project: Path) -> None:
    import shutil

    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv to drop CAP_NET_BIND_SERVICE")
    # As root, drop the capability to bind low ports, as an ordinary user lacks it.
    prefix = ["setpriv", "--bounding-set", "-net_bind_service", "--inh-caps", "-net_bind_service"] if os.geteuid() == 0 else []
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "asgidev", "80", "--no-reload"], cwd=main_project, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Error: no permission to bind 127.0.0.1:80. Ports below 1024 need privileges (root or CAP_NET_BIND_SERVICE); "
        "use a port such as 8000: 'asgidev 8000'."
    )
