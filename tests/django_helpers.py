"""Fixtures running the real Django test project (tests/django_project) through real asgidev processes.

Django never runs inside the pytest process: the project is copied to a temp
directory (so edits and its SQLite database never touch the repository), and
every server is a subprocess whose output is read line by line, so tests wait
on what it prints, with deadlines, never on sleeps. Registered in conftest.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PROJECT_SOURCE = Path(__file__).parent / "django_project"
BANNER_URL = re.compile(r"Starting ASGI server at (http://127\.0\.0\.1:\d+)/")
# Start-up imports Django, runs checks and migrations queries: seconds on a slow CI box.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ServerProcess:
    """One asgidev (or manage.py) subprocess; its combined stdout and stderr, collected as it comes."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            bufsize=1,
        )
        self._lines: list[str] = []
        self._has_ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._has_ended = True
            self._changed.notify_all()

    @property
    def output(self) -> str:
        with self._changed:
            return "".join(self._lines)

    def wait_for_output(self, pattern: str | re.Pattern[str], timeout: float = START_TIMEOUT_S, *, start: int = 0) -> re.Match[str]:
        """Wait until the output after character ``start`` matches ``pattern``; fail with the output on timeout or exit."""
        regex = re.compile(pattern)
        found: list[re.Match[str]] = []

        def is_done() -> bool:
            match = regex.search("".join(self._lines)[start:])
            if match:
                found.append(match)
            return bool(match) or self._has_ended

        with self._changed:
            self._changed.wait_for(is_done, timeout)
        if not found:
            state = "exited" if self._has_ended else "still running"
            pytest.fail(f"Server output never matched {regex.pattern!r} ({state}). Output:\n{self.output}")
        return found[0]

    def wait_started(self) -> str:
        """Wait for the banner; return the server's base URL (no trailing slash)."""
        self.url = self.wait_for_output(BANNER_URL).group(1)
        return self.url

    def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        code = self.process.wait(timeout)
        self._reader.join(STOP_TIMEOUT_S)
        return code

    def stop(self) -> None:
        """Ask the server to stop (SIGINT, as Ctrl-C), kill it if it does not, and close the pipe."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(STOP_TIMEOUT_S)
        assert self.process.stdout is not None
        self.process.stdout.close()


def project_env(**extra: str) -> dict[str, str]:
    """The environment for project subprocesses: unbuffered, uncoloured, no inherited Django settings."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE" and not k.startswith("MYSITE_")}
    env.update(PYTHONUNBUFFERED="1", NO_COLOR="1", DJANGO_COLORS="nocolor", **extra)
    return env


def copy_project(destination: Path) -> Path:
    """A fresh copy of the test project (no database), for tests that edit files."""
    shutil.copytree(PROJECT_SOURCE, destination, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3"))
    return destination


def migrate(project: Path) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=project, env=project_env(), check=True, timeout=START_TIMEOUT_S)


@pytest.fixture(scope="session")
def migrated_project_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test project with its database migrated once per session; copy it, never use it directly."""
    project = copy_project(tmp_path_factory.mktemp("django") / "template")
    migrate(project)
    return project


@pytest.fixture
def django_project(tmp_path: Path, migrated_project_template: Path) -> Path:
    """A migrated copy of the test project that this test may edit freely."""
    destination = tmp_path / "project"
    shutil.copytree(migrated_project_template, destination)
    return destination


ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def start_server() -> Iterator[ServerFactory]:
    """Start ``python ARGS...`` in a project directory; every process started is stopped at teardown.

    ``start_server(cwd, *args, wait=True, **env)`` returns a ServerProcess whose
    ``url`` is set once the banner appeared (``wait=False`` returns at once).
    """
    started: list[ServerProcess] = []

    def start(cwd: Path, *args: str, wait: bool = True, **env: str) -> ServerProcess:
        server = ServerProcess(list(args), cwd, project_env(**env))
        started.append(server)
        if wait:
            server.wait_started()
        return server

    yield start
    for server in started:
        server.stop()


def asgidev_args(*args: str) -> tuple[str, ...]:
    """``python -m asgidev ARGS --no-reload --port 0``."""
    return ("-m", "asgidev", *args, "--no-reload", "--port", "0")
