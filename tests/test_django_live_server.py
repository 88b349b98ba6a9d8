"""The ``asgidev_live_server`` fixture and ``asgidev.django.testing``, driven by a Django project's own pytest run.

Django settings are process-wide, so the Django side never runs in this process: each test copies the
test project to a temp directory and runs pytest there, in a subprocess, on
tests/django_project/live_server_tests/check_live_server.py (which this run never collects).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.django_helpers import copy_project, project_env
from tests.server_process import START_TIMEOUT_S

# Django's default test database for SQLite is in memory; the file variant sets TEST NAME.
# The Channels variant serves ASGI_APPLICATION (a ProtocolTypeRouter) instead of get_asgi_application().
SUITES = {
    "memory": {"DJANGO_SETTINGS_MODULE": "mysite.settings", "LIVE_SERVER_DB": "memory"},
    "file": {"DJANGO_SETTINGS_MODULE": "live_server_tests.settings_file_db", "LIVE_SERVER_DB": "file"},
    "channels-router": {
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        "LIVE_SERVER_DB": "memory",
        "MYSITE_ASGI_APPLICATION": "mysite.routing.application",
    },
}
# Plugin autoload off: the inner runs see asgidev's plugin only, named as a user would; warnings are errors there too.
INNER_PYTEST = (sys.executable, "-m", "pytest", "-q", "-W", "error", "-p", "no:cacheprovider", "-p", "asgidev.testing.pytest_plugin")


@pytest.mark.parametrize("suite", list(SUITES))
def test_live_server_in_a_django_test_suite(tmp_path: Path, suite: str) -> None:
    project = copy_project(tmp_path / "project")
    result = subprocess.run(
        [*INNER_PYTEST, "live_server_tests/check_live_server.py"],
        cwd=project,
        env=project_env(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **SUITES[suite]),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S * 2,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 passed" in result.stdout
    assert not (project / "db.sqlite3").exists()  # the tests never touched the development database


NOT_SET_UP = """
from asgidev.django.testing import live_server
from asgidev.errors import ConfigError
try:
    with live_server():
        print("started")
except ConfigError as exc:
    print(exc)
"""

FIXTURE_NOT_SET_UP = """
def test_needs_django(asgidev_live_server):
    pass
"""


def test_live_server_refuses_to_start_before_django_setup(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", NOT_SET_UP],
        cwd=tmp_path,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
        check=True,
    )
    assert "needs Django set up" in result.stdout and "django.setup()" in result.stdout


def test_fixture_fails_clearly_before_django_setup(tmp_path: Path) -> None:
    (tmp_path / "test_inner.py").write_text(FIXTURE_NOT_SET_UP, encoding="utf-8")
    result = subprocess.run(
        [*INNER_PYTEST, "test_inner.py"],
        cwd=tmp_path,
        env=project_env(PYTEST_DISABLE_PLUGIN_AUTOLOAD="1"),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_S,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 error" in result.stdout
    assert "asgidev_live_server: The Django live server needs Django set up" in result.stdout
