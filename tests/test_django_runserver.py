"""``manage.py runserver`` with ``asgidev.django`` installed runs asgidev; the app-order system check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.django_helpers import ServerFactory, project_env
from tests.server_process import START_TIMEOUT_S


def test_runserver_runs_asgidev_with_runserver_options(django_project: Path, start_server: ServerFactory) -> None:
    server = start_server(
        django_project, "manage.py", "runserver", "127.0.0.1:0", "--noreload", "--nothreading", "--skip-checks", "--no-server-header"
    )
    assert "serving mysite.asgi:application" in server.output
    assert "Django version" in server.output
    assert "Performing system checks" not in server.output
    page = httpx.get(server.url + "/polls/")
    assert page.status_code == 200
    assert "server" not in page.headers  # an asgidev extra option
    assert httpx.get(server.url + "/static/polls/style.css").status_code == 200


def test_runserver_nostatic(django_project: Path, start_server: ServerFactory) -> None:
    server = start_server(django_project, "manage.py", "runserver", "127.0.0.1:0", "--noreload", "--nostatic")
    assert "Static files: not served (--nostatic)" in server.output
    assert httpx.get(server.url + "/static/polls/style.css").status_code == 404


def test_app_order_is_a_warning_that_never_blocks_migrate(django_project: Path) -> None:
    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=django_project,
            env=project_env(MYSITE_ASGIDEV_LAST="1"),
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
        )

    check = manage("check")
    assert check.returncode == 0, check.stderr
    assert "(asgidev.W001) 'asgidev.django' should come before 'django.contrib.staticfiles' in INSTALLED_APPS." in check.stderr
    migrate = manage("migrate", "--check")
    assert migrate.returncode == 0, migrate.stderr
    assert "SystemCheckError" not in migrate.stderr
