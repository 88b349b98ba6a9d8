"""The command line: real ``asgidev`` subprocesses, their output and exit codes."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from asgidev import __version__
from asgidev.addrport import AddrPort, parse_addrport
from asgidev.config import Config, field_names
from asgidev.errors import ConfigError
from tests.server_process import ServerProcess
from tests.waiting import wait_until

HELLO = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello from app"})
"""


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgidev", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "hello.py").write_text(HELLO)
    return tmp_path


@pytest.fixture
def running(project: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess.asgidev(["hello:app", "--port", "0", "--no-reload"], cwd=project)
    try:
        proc.wait_started()
        yield proc
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("8001", AddrPort(None, 8001)),
        ("0:8001", AddrPort("0.0.0.0", 8001)),
        ("0.0.0.0:9000", AddrPort("0.0.0.0", 9000)),
        ("[::1]:8000", AddrPort("::1", 8000)),
        ("localhost:8000", AddrPort("localhost", 8000)),
        ("127.0.0.1:0", AddrPort("127.0.0.1", 0)),
    ],
)
def test_addrport(text: str, expected: AddrPort) -> None:
    assert parse_addrport(text) == expected


@pytest.mark.parametrize("text", ["abc", "80000", "1.2.3:80", "[::g]:80", "300.1.1.1:80", ":80", "host:"])
def test_bad_addrport(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_addrport(text)


# Written out, not derived: removing or renaming an option must fail here.
SHARED_OPTIONS = {
    *("--access-log", "--no-access-log", "--allowed-host", "--date-header", "--no-date-header", "--fd"),
    *("--forwarded-allow-ips", "--header", "--https", "--lifespan", "--limit-concurrency", "--limit-request-body"),
    *("--live-reload", "--no-live-reload", "--log-config", "--log-level", "--proxy-headers", "--no-proxy-headers"),
    *("--reload-dir", "--reload-exclude", "--reload-include", "--root-path", "--server-header", "--no-server-header"),
    *("--ssl-certfile", "--ssl-keyfile", "--ssl-keyfile-password", "--timeout-graceful-shutdown", "--timeout-keep-alive"),
    *("--timeout-request-body", "--timeout-request-head", "--timeout-write", "--uds", "--ws-max-size", "--ws-per-message-deflate"),
    *("--no-ws-per-message-deflate", "--ws-ping-interval", "--ws-ping-timeout", "--env-file", "--reload-poll", "--reload-cold"),
    *("--loop", "--server-timing"),
    *("--editor", "--expose-tracebacks"),
    # runserver's own spellings, which asgidev shares.
    *("--ipv6", "-6", "--noreload", "--nostatic", "--insecure", "--skip-checks"),
}
CLI_ONLY_OPTIONS = {"--app-dir", "--factory", "--host", "--port", "-p", "--reload", "--no-reload", "--static", "--version"}
# Django's BaseCommand options, and runserver's that asgidev accepts and ignores.
RUNSERVER_ONLY_OPTIONS = {"--help", "-h", "--version", "--verbosity", "-v", "--settings", "--pythonpath", "--traceback"}
RUNSERVER_ONLY_OPTIONS |= {"--no-color", "--force-color", "--nothreading"}


def test_cli_options_are_exactly_the_config_fields() -> None:
    import typer.main

    from asgidev.cli import cli

    command = typer.main.get_command(cli)
    names = {name for param in command.params for name in (*param.opts, *getattr(param, "secondary_opts", ())) if name.startswith("-")}
    assert names == SHARED_OPTIONS | CLI_ONLY_OPTIONS
    assert "--noreload" in run_cli("--help").stdout


def test_runserver_options_are_exactly_the_config_fields() -> None:
    from asgidev.django.management.commands.runserver import Command

    parser = Command().create_parser("manage.py", "runserver")
    assert {name for action in parser._actions for name in action.option_strings} == SHARED_OPTIONS | RUNSERVER_ONLY_OPTIONS


def test_every_config_field_has_an_option() -> None:
    from asgidev.options import all_options

    assert [option.name for option in all_options()] == list(field_names())
    assert all(option.on_flags or option.meta.is_positional for option in all_options())


def test_config_rejects_unknown_and_bad_values() -> None:
    with pytest.raises(ConfigError, match="Unknown option"):
        Config().replace(colour=True)
    with pytest.raises(ConfigError, match="lifespan"):
        Config(lifespan="maybe")  # type: ignore[arg-type]


def test_version() -> None:
    assert run_cli("--version").stdout.strip() == f"asgidev {__version__}"


def test_python_m_and_banner(running: ServerProcess) -> None:
    assert httpx.get(running.url).text == "hello from app"
    running.wait_for_line(r"^asgidev \S+, serving hello:app$")
    running.wait_for_line(r"^Quit the server with CONTROL-C\.$")
    running.wait_for_line(r"This is a development server")
    running.wait_for_line(r'^\[\d\d/\w+/\d{4} [\d:]+\] "GET / HTTP/1\.1" 200 14 [\d.]+ms 127\.0\.0\.1:\d+$')


def test_port_zero_prints_the_real_port(running: ServerProcess) -> None:
    port = int(running.url.rsplit(":", 1)[1])
    assert port != 0


def test_no_app_serves_welcome_page(tmp_path: Path) -> None:
    proc = ServerProcess.asgidev(["--port", "0", "--no-reload"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        page = httpx.get(url)
        assert page.status_code == 200
        assert "The install worked successfully!" in page.text
        assert "asgidev mysite.asgi:application" in page.text
    finally:
        proc.stop()


def test_module_alone_finds_app_attribute(project: Path) -> None:
    proc = ServerProcess.asgidev(["hello", "--port", "0", "--no-reload"], cwd=project)
    try:
        assert httpx.get(proc.wait_started()).text == "hello from app"
    finally:
        proc.stop()


def test_factory(project: Path) -> None:
    (project / "fact.py").write_text("from hello import app as inner\n\ndef create():\n    return inner\n")
    proc = ServerProcess.asgidev(["fact:create", "--factory", "--port", "0", "--no-reload"], cwd=project)
    try:
        assert httpx.get(proc.wait_started()).text == "hello from app"
    finally:
        proc.stop()


def test_app_dir(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    proc = ServerProcess.asgidev(["hello:app", "--app-dir", str(project), "--port", "0", "--no-reload"], cwd=elsewhere)
    try:
        assert httpx.get(proc.wait_started()).text == "hello from app"
    finally:
        proc.stop()


def test_busy_port_is_one_clear_line(project: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        for extra in ([], ["--no-reload"]):
            result = run_cli("hello:app", str(port), *extra, cwd=project)
            assert result.returncode == 1
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1, result.stderr
            assert f"port {port} on 127.0.0.1 is already in use" in lines[0]
            assert "--port 0" in lines[0]
            assert "Traceback" not in result.stderr
    finally:
        holder.close()


@pytest.mark.parametrize(
    ("app", "source", "message"),
    [
        ("missing_module:app", None, "Could not import module 'missing_module'"),
        ("hello:nope", None, "has no attribute 'nope'"),
        ("notcallable:app", "app = 42\n", "not an ASGI app"),
        ("raising:app", "import json\nraise KeyError('SECRET_KEY')\n", "raised KeyError"),
        ("bad:app", "import missing_dependency_xyz\n", "ModuleNotFoundError"),
    ],
)
def test_bad_app_is_clear(project: Path, app: str, source: str | None, message: str) -> None:
    if source is not None:
        (project / (app.split(":")[0] + ".py")).write_text(source)
    result = run_cli(app, "--no-reload", "--port", "0", cwd=project)
    assert result.returncode == 1
    assert message in result.stderr
    assert "asgidev/" not in result.stderr  # no asgidev internals
    if app.startswith(("raising", "bad")):
        assert "Traceback" in result.stderr and f"{app.split(':')[0]}.py" in result.stderr
    else:
        assert "Traceback" not in result.stderr


def test_bad_option_is_clear(project: Path) -> None:
    result = run_cli("hello:app", "--lifespan", "maybe", "--no-reload", cwd=project)
    assert result.returncode != 0
    assert "lifespan" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("hello:app", "8001", "--port", "8002", cwd=project)
    assert result.returncode == 1
    assert "not both" in result.stderr


def test_ctrl_c_stops_cleanly(project: Path) -> None:
    proc = ServerProcess.asgidev(["hello:app", "--port", "0", "--no-reload"], cwd=project)
    url = proc.wait_started()
    assert proc.stop(signal.SIGINT) == 0
    port = int(url.rsplit(":", 1)[1])
    probe = socket.socket()
    try:
        probe.bind(("127.0.0.1", port))
    finally:
        probe.close()


def test_ipv6_addrport(project: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        probe = socket.socket(socket.AF_INET6)
        probe.bind(("::1", 0))
        probe.close()
    except OSError:
        pytest.skip("IPv6 loopback unavailable")
    proc = ServerProcess.asgidev(["hello:app", "[::1]:0", "--no-reload"], cwd=project)
    try:
        url = proc.wait_started()
        assert url.startswith("http://[::1]:")
        assert httpx.get(url).text == "hello from app"
    finally:
        proc.stop()


def test_zero_shorthand_binds_all_interfaces_with_warning(project: Path) -> None:
    proc = ServerProcess.asgidev(["hello:app", "0:0", "--no-reload"], cwd=project)
    try:
        url = proc.wait_started()
        assert url.startswith("http://0.0.0.0:")
        proc.wait_for_line("reachable from the network")
    finally:
        proc.stop()


def test_unix_domain_socket(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("uds") / "asgidev.sock"
    proc = ServerProcess.asgidev(["hello:app", "--uds", str(path), "--no-reload"], cwd=project)
    try:
        proc.wait_for_line(r"Starting ASGI server at unix:")
        transport = httpx.HTTPTransport(uds=str(path))
        with httpx.Client(transport=transport) as client:
            assert client.get("http://localhost/").text == "hello from app"
    finally:
        proc.stop()


def test_inherited_file_descriptor(project: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    fd = listener.fileno()
    proc = subprocess.Popen(
        [sys.executable, "-m", "asgidev", "hello:app", "--fd", str(fd), "--no-reload"],
        cwd=project,
        pass_fds=(fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listener.close()
    try:
        response = wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/"), 15, retry_on=(httpx.TransportError,), what="an answer")
        assert response.text == "hello from app"
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0


def test_log_config_file_replaces_the_logging_set_up(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    config = tmp_path_factory.mktemp("logcfg") / "logging.json"
    config.write_text(
        '{"version": 1, "formatters": {"f": {"format": "CUSTOM %(name)s %(message)s"}},'
        ' "handlers": {"h": {"class": "logging.StreamHandler", "formatter": "f", "stream": "ext://sys.stdout"}},'
        ' "loggers": {"asgidev": {"handlers": ["h"], "level": "INFO", "propagate": false}}}'
    )
    proc = ServerProcess.asgidev(["hello:app", "--port", "0", "--no-reload", "--log-config", str(config)], cwd=project)
    try:
        httpx.get(proc.wait_started())
        proc.wait_for_line(r'^CUSTOM asgidev\.access "GET / HTTP/1\.1" 200')
    finally:
        proc.stop()


def test_second_ctrl_c_exits_at_once(project: Path) -> None:
    (project / "slow.py").write_text(
        "import asyncio\n\nasync def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    while True:\n        await send({'type': 'http.response.body', 'body': b'x', 'more_body': True})\n"
        "        await asyncio.sleep(0.05)\n"
    )
    proc = ServerProcess.asgidev(["slow:app", "--port", "0", "--no-reload", "--timeout-graceful-shutdown", "60"], cwd=project)
    url = proc.wait_started()
    with httpx.Client() as client, client.stream("GET", url) as response:
        next(response.iter_bytes())
        proc.process.send_signal(signal.SIGINT)  # graceful: would wait up to 60 s for the stream
        proc.wait_for_line(r"Shutting down \(press CONTROL-C again")
        started = time.monotonic()
        code = proc.stop(signal.SIGINT)  # the second one exits at once
    assert time.monotonic() - started < 10
    assert code != 0
