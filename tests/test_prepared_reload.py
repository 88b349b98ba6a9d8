"""The prepared spare: a Django project's set-up runs before the save, and serves only if nothing it read changed.

A real Django project in a real subprocess, edited on disk. Its app's
``ready()`` takes 0.3 s, as a big project's set-up does (Wagtail's builds
hundreds of models), so once a reload has measured it, spares run it in
advance and fork seeds (see ``supervisor/prepared.py`` and ``seed.py``).
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import httpx
import pytest

from tests.server_process import ServerProcess, is_process_gone, save_like_an_editor
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
    import os
    import time
    from django.apps import AppConfig

    class SlowAppConfig(AppConfig):
        name = "slowapp"

        def ready(self):
            if os.environ.get("READY_MARKER"):  # for the test to see, outside the project
                open(os.environ["READY_MARKER"], "w").close()
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


def start(project: Path, python_path: str = "", ready_marker: Path | None = None) -> ServerProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    if ready_marker is not None:
        env["READY_MARKER"] = str(ready_marker)
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join([python_path, *filter(None, [os.environ.get("PYTHONPATH")])])
    env.pop("DJANGO_SETTINGS_MODULE", None)
    server = ServerProcess.asgidev(["mysite.asgi:application", "--port", "0", "--log-level", "debug"], cwd=project, env=env)
    server.wait_started()
    return server


def get_text(url: str) -> str:
    return httpx.get(url, timeout=10).text


def wait_for_spare(server: ServerProcess, count: int, prepared: int = 0) -> None:
    """Until spares have warmed ``count`` times, and ``prepared`` of them have run the 0.3 s set-up in advance."""
    server.wait_for_line(r"Spare worker warm: \d+ modules", count=count, timeout=30)
    if prepared:
        server.wait_for_line(r"Spare worker set-up in advance: \d+ ms", count=prepared, timeout=30)


def edit_view(server: ServerProcess, project: Path, version: str, model: str = "m1") -> None:
    write_view(project, version)
    wait_until(lambda: get_text(server.url) == f"view={version} model={model}", 20)


def children_of(pid: int) -> set[int]:
    """The live processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def test_a_view_edit_is_served_from_the_set_up_run_in_advance(project: Path) -> None:
    server = start(project)
    try:
        assert get_text(server.url) == "view=v1 model=m1"
        # The first reload measures the set-up in a warm worker (0.3 s: worth running in advance from then on).
        wait_for_spare(server, 1)
        edit_view(server, project, "v2")
        server.wait_for_line(r"Reloaded in \d+ ms \(changed: slowapp/views\.py; warm: \d+ modules\)")
        for reloads, version in enumerate(("v3", "v4"), start=1):
            # Each prepared spare leaves a seed, which is the next spare: every save finds one prepared.
            wait_for_spare(server, 1 + reloads, prepared=reloads)
            edit_view(server, project, version)
            server.wait_for_line(
                r"Reloaded in \d+ ms \(changed: slowapp/views\.py; warm: \d+ modules; set-up run in advance\)", count=reloads
            )
        # Import-time output appears once per worker that served (the first, and one per reload), as in cold
        # starts: a set-up run in advance prints when it serves, a seed never ran it.
        wait_until(lambda: server.count(r"settings imported by mysite\.settings") >= 4, 10)
        assert server.count(r"settings imported by mysite\.settings") == 4, server.output
        # The seeds are the supervisor's own children (seed.py), and none outlives it.
        # The worker, the next spare and its seed (forked once the spare, the last seed, has warmed anew).
        wait_until(lambda: len(children_of(server.process.pid)) >= 3, 10)
        workers = children_of(server.process.pid)
    finally:
        server.stop()
    wait_until(lambda: all(is_process_gone(pid) for pid in workers), 10)


def test_an_edit_to_what_the_set_up_read_is_served_as_a_cold_start_would(project: Path) -> None:
    server = start(project)
    try:
        assert get_text(server.url) == "view=v1 model=m1"
        wait_for_spare(server, 1)
        edit_view(server, project, "v2")
        # django.setup() imported models.py: the set-up run in advance is stale, the seed serves from scratch.
        wait_for_spare(server, 2, prepared=1)
        write_models(project, "m2")
        wait_until(lambda: get_text(server.url) == "view=v2 model=m2", 20)
        server.wait_for_line(r"set-up run in advance is stale: .*slowapp/models\.py changed since the set-up ran; the seed")
        assert server.count(r"set-up run in advance\)") == 0
        # The seed that served it left a seed of its own before loading the app: the next spare is warm at once.
        server.wait_for_line(r"Spare worker: the seed \(pid \d+\)")
        # A new module in a package the set-up listed: a cold start's import system would see it.
        wait_for_spare(server, 3, prepared=2)
        (project / "slowapp" / "extra.py").write_text("EXTRA = 1\n")
        edit_view(server, project, "v3", "m2")
        server.wait_for_line(r"set-up run in advance is stale: .*slowapp changed since the set-up ran; the seed")
        assert server.count(r"set-up run in advance\)") == 0
        # A spare that ran its set-up in advance serves the next view edit.
        wait_for_spare(server, 4, prepared=3)
        edit_view(server, project, "v4", "m2")
        server.wait_for_line(r"set-up run in advance\)")
    finally:
        server.stop()


THREAD_STARTER = "import threading, time\n\nthreading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"


def test_a_module_that_starts_a_thread_turns_the_set_up_in_advance_off_with_one_line(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # An installed module (outside the watched project) that starts a thread at import, as some SDKs do:
    # a spare that imported it must not fork (seed.py), so nothing is run in advance, and the log says so once.
    installed = tmp_path_factory.mktemp("installed")
    (installed / "threadstarter.py").write_text(THREAD_STARTER)
    views = (project / "slowapp" / "views.py").read_text()
    save_like_an_editor(project / "slowapp" / "views.py", "import threadstarter  # noqa: F401\n" + views)
    server = start(project, python_path=str(installed))
    try:
        assert get_text(server.url) == "view=v1 model=m1"
        for count, version in enumerate(("v2", "v3", "v4"), start=1):
            wait_for_spare(server, count)
            edit_view(server, project, version)
            server.wait_for_line(r"Reloaded in \d+ ms \(changed: slowapp/views\.py; warm: \d+ modules\)", count=count)
        server.wait_for_line(r"started a thread while warming, so spares cannot fork")
        assert server.count(r"started a thread while warming") == 1, server.output
        assert server.count(r"set-up run in advance\)") == 0
    finally:
        server.stop()


LEARNING_SETTINGS = SETTINGS.replace(
    'INSTALLED_APPS = ["slowapp"]', 'INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"]'
)
LEARNING_VIEW = textwrap.dedent(
    """
    from django.http import HttpResponse


    def index(request):
        from django.contrib.auth import forms  # noqa: F401 -- installed, imports models: only after the set-up

        return HttpResponse("view={version}")
    """
)


def test_a_spare_that_fails_again_is_replaced_by_its_checkpoint(project: Path) -> None:
    # A fresh project, no warm-set file: the first spare fails on the auth models (they need django.setup()),
    # the next one forks a checkpoint after the modules that imported cleanly, then fails on what the first
    # request imported (auth.forms): the checkpoint, a warm copy, is the spare after it (seed.py).
    (project / "mysite" / "settings.py").write_text(LEARNING_SETTINGS)
    (project / "mysite" / "urls.py").write_text(URLS.replace("slowapp", "mysite"))
    save_like_an_editor(project / "mysite" / "views.py", LEARNING_VIEW.format(version="v1"))
    server = start(project)
    try:
        assert get_text(server.url) == "view=v1"
        server.wait_for_line(r"Spare worker set aside: \d+ modules failed", count=2, timeout=30)
        server.wait_for_line(r"Spare worker: the seed \(pid \d+\)", timeout=30)
        server.wait_for_line(r"Spare worker warm: \d+ modules", timeout=30)
        save_like_an_editor(project / "mysite" / "views.py", LEARNING_VIEW.format(version="v2"))
        wait_until(lambda: get_text(server.url) == "view=v2", 20)
        server.wait_for_line(r"Reloaded in \d+ ms \(changed: mysite/views\.py; warm: \d+ modules\)")
    finally:
        server.stop()


def test_a_save_while_the_set_up_runs_in_advance_is_served_as_saved(project: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    # models.py is read by django.setup(); saved during the app's ready() (0.3 s), after that read. The snapshot
    # taken once the set-up has finished sees the new file: only its modification time tells it was read before.
    marker = tmp_path_factory.mktemp("marker") / "in-ready"
    server = start(project, ready_marker=marker)
    try:
        assert get_text(server.url) == "view=v1 model=m1"
        wait_for_spare(server, 1)
        edit_view(server, project, "v2")
        marker.unlink()
        server.wait_for_line(r"Spare worker warm: \d+ modules", count=2, timeout=30)
        wait_until(marker.exists, 20)  # the spare's set-up is in ready(): models.py has been read
        # In place, as some editors save: the directory's names stay as the set-up listed them.
        (project / "slowapp" / "models.py").write_text("MODEL_VERSION = 'm2'\n")
        wait_until(lambda: get_text(server.url) == "view=v2 model=m2", 20)
        assert get_text(server.url) == "view=v2 model=m2"  # and it stays so: no stale worker serves after it
    finally:
        server.stop()


def test_after_a_restart_the_first_spare_is_prepared_before_the_first_save(project: Path) -> None:
    # The first run learns the project (its warm set, and that its set-up is worth running in advance).
    server = start(project)
    try:
        wait_for_spare(server, 1)
        edit_view(server, project, "v2")
        wait_for_spare(server, 2, prepared=1)
    finally:
        server.stop()
    # Edited while the server was down: the next start must serve it, as a cold start would.
    write_view(project, "v3")
    server = start(project)
    try:
        assert get_text(server.url) == "view=v3 model=m1"
        # The first worker imported the warm set before GO and left a seed (spares.py): the first spare is that
        # seed, and it runs the set-up in advance before any save (a fresh interpreter would have to warm first).
        assert server.wait_for_line(r"Spare worker: (the seed|a fresh interpreter)").group(1) == "the seed", server.output
        wait_for_spare(server, 1, prepared=1)
        edit_view(server, project, "v4")
        server.wait_for_line(r"Reloaded in \d+ ms \(changed: slowapp/views\.py; warm: \d+ modules; set-up run in advance\)")
        # Import-time output once per worker that served: the start, and the reload.
        wait_until(lambda: server.count(r"settings imported by mysite\.settings") >= 2, 10)
        assert server.count(r"settings imported by mysite\.settings") == 2, server.output
    finally:
        server.stop()
