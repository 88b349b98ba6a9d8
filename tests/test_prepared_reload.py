"""The prepared spare: a Django project's set-up runs before the save, and serves only if nothing it read changed.

A real Django project in a real subprocess, edited on disk. Its app's
``ready()`` takes 0.3 s, as a big project's set-up does (Wagtail's builds
hundreds of models), so the spare runs it in advance (see
``supervisor/prepared.py``).
"""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess, save_like_an_editor
from tests.waiting import wait_until

pytest.importorskip("django")

SETTINGS = textwrap.dedent(
    """
    print("settings imported by", __name__, flush=True)
    SECRET_KEY = "test"
    DEBUG = True
    ALLOWED_HOSTS = ["*"]
    INSTALLED_APPS = ["slowapp"]
    ROOT_URLCONF = "mysite.urls"
    DATABASES = {}
    USE_TZ = True
    """
)
URLS = "from django.urls import path\nfrom slowapp import views\n\nurlpatterns = [path('', views.index)]\n"
ASGI = textwrap.dedent(
    """
    import os
    from django.core.asgi import get_asgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    application = get_asgi_application()
    """
)
APPS = textwrap.dedent(
    """
    import time
    from django.apps import AppConfig

    class SlowAppConfig(AppConfig):
        name = "slowapp"

        def ready(self):
            time.sleep(0.3)  # a big project's set-up
    """
)


def write_view(project: Path, version: str) -> None:
    body = f'    return HttpResponse(f"view={version} model={{MODEL_VERSION}}")\n'
    text = "from django.http import HttpResponse\nfrom slowapp.models import MODEL_VERSION\n\n\ndef index(request):\n" + body
    save_like_an_editor(project / "slowapp" / "views.py", text)


def write_models(project: Path, version: str) -> None:
    save_like_an_editor(project / "slowapp" / "models.py", f"MODEL_VERSION = {version!r}\n")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "mysite").mkdir()
    (tmp_path / "slowapp").mkdir()
    for package in ("mysite", "slowapp"):
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "mysite" / "settings.py").write_text(SETTINGS)
    (tmp_path / "mysite" / "urls.py").write_text(URLS)
    (tmp_path / "mysite" / "asgi.py").write_text(ASGI)
    (tmp_path / "slowapp" / "apps.py").write_text(APPS)
    write_view(tmp_path, "v1")
    write_models(tmp_path, "m1")
    return tmp_path


def start(project: Path) -> ServerProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    server = ServerProcess.asgidev(["mysite.asgi:application", "--port", "0", "--log-level", "debug"], cwd=project, env=env)
    server.wait_started()
    return server


def get_text(url: str) -> str:
    return httpx.get(url, timeout=10).text


def wait_for_spare(server: ServerProcess, count: int) -> None:
    """Until the spare has warmed ``count`` times, and its child has had time for the 0.3 s set-up."""
    server.wait_for_line(r"Spare worker warm: \d+ modules", count=count, timeout=30)
    time.sleep(1.5)


def test_a_view_edit_is_served_from_the_set_up_run_in_advance(project: Path) -> None:
    server = start(project)
    try:
        assert get_text(server.url) == "view=v1 model=m1"
        wait_for_spare(server, 1)
        write_view(project, "v2")
        wait_until(lambda: get_text(server.url) == "view=v2 model=m1", 20)
        server.wait_for_line(r"Reloaded in \d+ ms \(changed: slowapp/views\.py; warm: \d+ modules; set-up run in advance\)")
        wait_for_spare(server, 2)
        write_view(project, "v3")
        wait_until(lambda: get_text(server.url) == "view=v3 model=m1", 20)
        server.wait_for_line(r"set-up run in advance\)", count=2)
        # Import-time output appears once per worker that served (the first, and one per reload), as in cold
        # starts: a set-up run in advance prints when it serves, and one discarded prints nothing.
        time.sleep(0.5)
        assert server.count(r"settings imported by mysite\.settings") == 3, server.output
    finally:
        server.stop()


def test_an_edit_to_what_the_set_up_read_is_served_as_a_cold_start_would(project: Path) -> None:
    server = start(project)
    try:
        assert get_text(server.url) == "view=v1 model=m1"
        wait_for_spare(server, 1)
        # django.setup() imported models.py: the set-up run in advance is stale, the plain warm spare serves.
        write_models(project, "m2")
        wait_until(lambda: get_text(server.url) == "view=v1 model=m2", 20)
        server.wait_for_line(r"set-up was not run in advance: .*slowapp/models\.py changed since the set-up ran")
        assert server.count(r"set-up run in advance\)") == 0
        # A new module in a package the set-up listed: a cold start's import system would see it.
        wait_for_spare(server, 2)
        (project / "slowapp" / "extra.py").write_text("EXTRA = 1\n")
        write_view(project, "v2")
        wait_until(lambda: get_text(server.url) == "view=v2 model=m2", 20)
        server.wait_for_line(r"set-up was not run in advance: .*slowapp changed since the set-up ran")
        assert server.count(r"set-up run in advance\)") == 0
    finally:
        server.stop()
