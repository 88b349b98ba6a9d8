"""``manage.py runserver`` with ``asgidev.django`` installed runs asgidev; the app-order system check."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.django_helpers import ServerFactory, project_env
from tests.server_process import START_TIMEOUT_S
from tests.test_django_reload import wait_for_page


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


def test_runserver_becomes_asgidev_before_models_load(django_project: Path, start_server: ServerFactory) -> None:
    # A broken models.py at start: Django's set-up would fail and fall back to its own server.
    models = django_project / "polls" / "models.py"
    good = models.read_text()
    models.write_text(good + "\ndef broken(:\n")
    server = start_server(django_project, "manage.py", "runserver", "127.0.0.1:0")
    page = wait_for_page(server.url + "/polls/", lambda r: r.status_code == 500)
    assert "SyntaxError" in page.text
    # The same process (pid), replaced by the asgidev supervisor: no Django loaded in it, no Django reloader.
    cmdline = Path(f"/proc/{server.process.pid}/cmdline").read_bytes().split(b"\0")
    assert b"asgidev" in cmdline[cmdline.index(b"-m") + 1 :], cmdline
    assert "StatReloader" not in server.output
    assert "Starting development server" not in server.output
    models.write_text(good)
    assert "Which server?" in wait_for_page(server.url + "/polls/", lambda r: r.status_code == 200).text


def test_runserver_env_file_edits_reach_the_next_worker(django_project: Path, start_server: ServerFactory) -> None:
    # manage.py loads .env itself (dotenv.load_dotenv); the workers must still see the file as it is now.
    env_file = django_project / ".env"
    env_file.write_text("MYSITE_GREETING=first\n")
    server = start_server(django_project, "manage.py", "runserver", "127.0.0.1:0")
    assert wait_for_page(server.url + "/polls/greeting/", lambda r: r.status_code == 200).text == "first"
    env_file.write_text("MYSITE_GREETING=second\n")
    wait_for_page(server.url + "/polls/greeting/", lambda r: r.text == "second")


def test_runserver_carries_djangos_own_options_over(django_project: Path, tmp_path: Path, start_server: ServerFactory) -> None:
    # --settings and --pythonpath reach the asgidev process through the environment; --no-color is Django's alone.
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "dev_settings.py").write_text('from mysite.settings import *  # noqa: F403\nGREETING = "from --settings"\n')
    server = start_server(
        django_project, "manage.py", "runserver", "127.0.0.1:0", "--settings=dev_settings", "--pythonpath", str(extra), "--no-color"
    )
    assert "using settings 'dev_settings'" in server.output
    assert httpx.get(server.url + "/polls/greeting/").text == "from --settings"
