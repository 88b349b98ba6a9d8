"""Fixtures running the real Django test project (tests/django_project) through real asgidev processes.

Django never runs inside the pytest process: the project is copied to a temp
directory (so edits and its SQLite database never touch the repository), and
every server is a subprocess whose output is read line by line, so tests wait
on what it prints, with deadlines, never on sleeps. Registered in conftest.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server_process import START_TIMEOUT_S, ServerProcess

PROJECT_SOURCE = Path(__file__).parent / "django_project"


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
        server = ServerProcess(args, cwd, project_env(**env))
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
