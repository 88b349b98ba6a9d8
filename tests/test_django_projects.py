"""What real Django projects do that the tutorial does not: LOGGING, top-level settings, .env, editable apps, DEBUG off.

Each test runs the suite's Django project (grown for these cases) in real
asgidev or ``manage.py`` processes, as a developer would.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from asgidev.django.discovery import extra_setup
from tests.django_helpers import ServerFactory, asgidev_args
from tests.test_django_reload import wait_for_page

MODELS_TYPO = "\ndef broken(:\n"


def test_disable_existing_loggers_leaves_asgidev_console_output(django_project: Path, start_server: ServerFactory) -> None:
    # The project's LOGGING sets disable_existing_loggers (as django-oscar's sandbox does).
    server = start_server(django_project, "-m", "asgidev", "--port", "0")
    assert httpx.get(server.url + "/polls/").status_code == 200
    server.wait_for_line(r'"GET /polls/ HTTP/1\.1" 200 \d+')
    # The host guard's refusal names the request too.
    assert httpx.get(server.url + "/polls/", headers={"Host": "evil.example"}).status_code == 400
    server.wait_for_line(r'"GET /polls/ HTTP/1\.1" 400 \d+')
    models = django_project / "polls" / "models.py"
    models.write_text(models.read_text() + MODELS_TYPO)
    server.wait_for_line("Reload failed")
    # The load error itself, after a failed reload, is on the console too.
    server.wait_for_line(r"SyntaxError")
    assert httpx.get(server.url + "/polls/").status_code == 500
    server.wait_for_line(r'"GET /polls/ HTTP/1\.1" 500 \d+')


def test_a_project_naming_asgidev_loggers_keeps_its_choice(django_project: Path, start_server: ServerFactory) -> None:
    server = start_server(django_project, *asgidev_args(), MYSITE_QUIET_ACCESS="1")
    assert httpx.get(server.url + "/polls/").status_code == 200
    # A warning after the request: once it is printed, an access line would have been too.
    assert httpx.get(server.url + "/polls/", headers={"Host": "evil.example"}).status_code == 400
    server.wait_for_line("Refused a request for Host 'evil.example'")
    assert 'HTTP/1.1" 200' not in server.output


NO_HOSTS_LINE = "DEBUG is False and ALLOWED_HOSTS is empty, so Django would refuse every request"


def test_debug_off_without_allowed_hosts_refuses_to_start(django_project: Path, start_server: ServerFactory) -> None:
    server = start_server(django_project, *asgidev_args(), wait=False, MYSITE_DEBUG="0", MYSITE_NO_HOSTS="1")
    assert server.wait_exit() == 1
    assert NO_HOSTS_LINE in server.output
    assert "Traceback" not in server.output
    runserver = start_server(django_project, "manage.py", "runserver", "127.0.0.1:0", wait=False, MYSITE_DEBUG="0", MYSITE_NO_HOSTS="1")
    assert runserver.wait_exit() == 1
    assert "You must set settings.ALLOWED_HOSTS if DEBUG is False." in runserver.output


def test_debug_off_without_allowed_hosts_under_reload_says_so_until_fixed(django_project: Path, start_server: ServerFactory) -> None:
    # The supervisor never imports settings: the worker's load fails, with the line and a page, until settings are fixed.
    server = start_server(django_project, "-m", "asgidev", "--port", "0", MYSITE_DEBUG="0", MYSITE_NO_HOSTS="1")
    server.wait_for_line(NO_HOSTS_LINE)
    page = httpx.get(server.url + "/polls/")
    assert page.status_code == 500
    assert "ALLOWED_HOSTS is empty" in page.text


def test_bare_asgidev_reads_the_env_file_manage_py_loads_and_says_manage_py_does_more(
    django_project: Path, start_server: ServerFactory
) -> None:
    (django_project / ".env").write_text("MYSITE_GREETING=from the env file\n")
    server = start_server(django_project, *asgidev_args())
    assert httpx.get(server.url + "/polls/greeting/").text == "from the env file"
    notes = [line for line in server.lines if line.startswith("Note: manage.py does more than set DJANGO_SETTINGS_MODULE")]
    assert len(notes) == 1, server.output
    assert "dotenv.load_dotenv(" in notes[0]


def test_asgi_py_beside_a_top_level_settings_module_is_found(django_project: Path, start_server: ServerFactory) -> None:
    # django-oscar's sandbox: manage.py, settings.py and asgi.py side by side, DJANGO_SETTINGS_MODULE="settings".
    (django_project / "settings.py").write_text("from mysite.settings import *  # noqa: F403\n")
    (django_project / "asgi.py").write_text(
        "import os\n\n"
        "from django.core.asgi import get_asgi_application\n\n"
        'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")\n'
        "django_app = get_asgi_application()\n\n\n"
        "async def application(scope, receive, send):\n"
        "    async def send_marked(message):\n"
        '        if message["type"] == "http.response.start":\n'
        '            message = {**message, "headers": [*message.get("headers", []), (b"x-from", b"top-level asgi.py")]}\n'
        "        await send(message)\n\n"
        "    await django_app(scope, receive, send_marked)\n"
    )
    manage = django_project / "manage.py"
    manage.write_text(manage.read_text().replace('"mysite.settings"', '"settings"'))
    server = start_server(django_project, *asgidev_args())
    assert "settings 'settings' from manage.py, app from the project's asgi.py" in server.output
    assert "serving asgi:application" in server.output
    page = httpx.get(server.url + "/polls/")
    assert page.status_code == 200
    assert page.headers["x-from"] == "top-level asgi.py"


def test_startproject_manage_py_does_nothing_more() -> None:
    import django  # type: ignore[import-untyped]

    template = Path(django.__file__).parent / "conf" / "project_template" / "manage.py-tpl"
    source = template.read_text().replace("{{ project_name }}", "mysite")
    assert extra_setup(source) is None
    assert (
        extra_setup(source.replace("    main()", "    import dotenv\n    dotenv.load_dotenv()\n    main()"))
        == "line 23: dotenv.load_dotenv()"
    )


def test_websocket_handshake_while_the_error_page_is_up_is_refused_403(django_project: Path, start_server: ServerFactory) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    models = django_project / "polls" / "models.py"
    models.write_text(models.read_text() + MODELS_TYPO)
    server = start_server(django_project, "-m", "asgidev", "--port", "0")
    server.wait_for_line("SyntaxError")
    # Refused before the upgrade (docs/reloading.md): no 101 followed by a 1011 close.
    with pytest.raises(InvalidStatus) as refused, connect(server.url.replace("http", "ws", 1) + "/ws/", open_timeout=10):
        pass
    assert refused.value.response.status_code == 403
    server.wait_for_line(r'"WebSocket /ws/" 403')


def test_an_editable_install_outside_the_project_is_watched(django_project: Path, tmp_path: Path, start_server: ServerFactory) -> None:
    # django-oscar's layout: the app's package lives in ../src, installed in editable mode: a .pth file in
    # site-packages names the directory (what pip install -e and setuptools' lenient mode write). A real
    # virtualenv, sharing this one's packages, holds the .pth file.
    package = tmp_path / "src" / "greetext"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('GREETING = "from ../src"\n')
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], check=True, capture_output=True, text=True
    ).stdout.strip()
    Path(site_packages, "__editable__.greetext-0.1.pth").write_text(f"{tmp_path / 'src'}\n")
    views = django_project / "polls" / "views.py"
    source = views.read_text().replace("return HttpResponse(settings.GREETING)", "return HttpResponse(greetext.GREETING)")
    views.write_text("import greetext\n" + source)
    # Started through this interpreter, replaced at once by the virtualenv's (same pid, same output).
    launch = f"import os; os.execv({str(python)!r}, [{str(python)!r}, '-m', 'asgidev', '--port', '0'])"
    server = start_server(django_project, "-c", launch)
    url = server.url + "/polls/greeting/"
    assert httpx.get(url).text == "from ../src"
    # Listed once the worker has loaded the app: the watch line again, with the new root.
    server.wait_for_line(rf"Watching for file changes in .*{re.escape(str(package))}")
    (package / "__init__.py").write_text('GREETING = "edited in ../src"\n')
    wait_for_page(url, lambda r: r.text == "edited in ../src")


@pytest.mark.parametrize("reload", [True, False], ids=["reload", "no-reload"])
def test_the_site_is_served_before_the_system_checks_finish(
    django_project: Path, tmp_path: Path, start_server: ServerFactory, reload: bool
) -> None:
    # README: start-up never waits for Django's checks. A check that only finishes once the test
    # creates a file proves it: the page is served while the check still waits.
    gate = tmp_path / "checks-may-finish"
    args = ("-m", "asgidev", "--port", "0") if reload else asgidev_args()
    server = start_server(django_project, *args, MYSITE_CHECK_GATE=str(gate))
    assert httpx.get(server.url + "/polls/").status_code == 200
    assert "System check identified" not in server.output
    gate.touch()
    server.wait_for_line("System check identified no issues")
