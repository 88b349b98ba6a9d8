"""Options from .env files, ASGIDEV_<OPTION> variables and [tool.asgidev]: real files, real environments, real servers."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from asgidev.cli import build_config
from asgidev.errors import ConfigError
from asgidev.sources import read_layers
from tests.server_process import ServerProcess, save_like_an_editor
from tests.waiting import wait_until

ECHO = textwrap.dedent(
    """
    import os

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = f"{os.environ.get('GREETING', '-')} {scope['root_path'] or '-'}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})
    """
)


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any ASGIDEV_ or GREETING variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASGIDEV_") and k != "GREETING"}
    return {**env, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", **extra}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "echo.py").write_text(ECHO)
    return tmp_path


def run_cli(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "asgidev", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=30)


def test_env_file_is_read_again_for_every_reload(project: Path) -> None:
    (project / ".env").write_text("GREETING=one\nthis line is not a variable\n")
    proc = ServerProcess.asgidev(["echo:app", "--port", "0"], cwd=project, env=clean_env())
    try:
        url = proc.wait_started()
        assert httpx.get(url).text == "one -"
        proc.wait_for_line(r"^Environment: \.env \(re-read on every reload\)$")
        proc.wait_for_line(r"\.env, line 2: cannot parse 'this line is not a variable'; the line is ignored")
        save_like_an_editor(project / ".env", "GREETING=two\n")
        wait_until(lambda: httpx.get(url).text == "two -", timeout=15)
    finally:
        proc.stop()


def test_shell_variables_win_and_later_env_files_win(project: Path) -> None:
    (project / "a.env").write_text("GREETING=from-a\nROOT=a\n")
    (project / "b.env").write_text("GREETING=from-b\n")
    args = ["echo:app", "--port", "0", "--no-reload", "--env-file", "a.env", "--env-file", "b.env"]
    proc = ServerProcess.asgidev(args, cwd=project, env=clean_env())
    try:
        assert httpx.get(proc.wait_started()).text == "from-b -"
    finally:
        proc.stop()
    proc = ServerProcess.asgidev(args, cwd=project, env=clean_env(GREETING="shell"))
    try:
        assert httpx.get(proc.wait_started()).text == "shell -"
    finally:
        proc.stop()


def test_missing_env_file_is_one_clear_line(project: Path) -> None:
    result = run_cli(["echo:app", "--no-reload", "--env-file", "missing.env"], project, clean_env())
    assert result.returncode == 1
    assert result.stderr.strip() == "Error: --env-file missing.env: no such file. Create it, or drop the option."


def test_order_is_command_line_then_environment_then_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.asgidev]\nport = 3\nlog-level = "warning"\nlifespan = "off"\n'
        'reload-include = ["*.yaml"]\nheader = ["X-From: pyproject"]\nreload-dir = ["src"]\n'
    )
    environ = {"ASGIDEV_PORT": "2", "ASGIDEV_LOG_LEVEL": "debug", "ASGIDEV_RELOAD_INCLUDE": "*.toml, *.ini", "ASGIDEV_ACCESS_LOG": "off"}
    below = tmp_path / "sub" / "dir"
    below.mkdir(parents=True)
    config = build_config({"port": 1}, layers=read_layers(environ, below))
    assert (config.port, config.log_level, config.lifespan) == (1, "debug", "off")
    assert config.reload_includes == ("*.toml", "*.ini")
    assert config.access_log is False
    assert config.headers == (("X-From", "pyproject"),)
    # Paths in pyproject.toml are relative to it, wherever asgidev starts.
    assert config.reload_dirs == (str(tmp_path / "src"),)


@pytest.mark.parametrize(
    ("pyproject", "environ", "message"),
    [
        ("[tool.asgidev]\nprot = 9000\n", {}, "unknown key 'prot' in [tool.asgidev]. Did you mean 'port'?"),
        ("[tool.asgidev]\nport = '9000'\n", {}, "port must be a int, not '9000'"),
        ("[tool.asgidev]\nport = \n", {}, "is not valid TOML"),
        ("", {"ASGIDEV_PORT": "nine"}, "ASGIDEV_PORT='nine' is not a valid int."),
        ("", {"ASGIDEV_RELOAD": "maybe"}, "ASGIDEV_RELOAD='maybe' is not a boolean."),
        ("", {"ASGIDEV_LIFESPAN": "sometimes"}, "ASGIDEV_LIFESPAN='sometimes' is not one of: auto, on, off."),
    ],
)
def test_bad_sources_are_clear_errors(tmp_path: Path, pyproject: str, environ: dict[str, str], message: str) -> None:
    if pyproject:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    with pytest.raises(ConfigError) as caught:
        read_layers(environ, tmp_path)
    assert message in f"{caught.value.message} {caught.value.hint}"


def test_cli_reads_environment_and_pyproject(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.asgidev]\napp = "echo:app"\nroot-path = "/from-pyproject"\nreload = false\n')
    env = clean_env(ASGIDEV_PORT="0", ASGIDEV_HEADER="X-From: environment", GREETING="hi")
    proc = ServerProcess.asgidev([], cwd=project, env=env)
    try:
        response = httpx.get(proc.wait_started())
        assert response.text == "hi /from-pyproject"
        assert response.headers["x-from"] == "environment"
        assert proc.count("Watching") == 0  # reload = false came from pyproject.toml
    finally:
        proc.stop()
    # The command line wins over both.
    proc = ServerProcess.asgidev(["--root-path", "/from-cli"], cwd=project, env=env)
    try:
        assert httpx.get(proc.wait_started()).text == "hi /from-cli"
    finally:
        proc.stop()


def test_unknown_pyproject_key_stops_the_cli_with_one_line(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.asgidev]\nreload-includes = ['*.yaml']\n")
    result = run_cli(["echo:app", "--no-reload"], project, clean_env())
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "unknown key 'reload-includes' in [tool.asgidev]. Did you mean 'reload-include'?" in result.stderr
