"""Reload latency on real apps: a source file is saved, how long until the new code answers?

Each variant serves a temporary copy of an app with its reloader on. An edit
writes a new token into the source; a client then requests until the token
appears (a new request right after each answer, and 5 ms after a refused or
failed one, so the failure count is comparable between servers). Failed
requests are connection errors and 5xx answers during the swap.

Variants are interleaved: each round starts every (app, server) pair once and
makes a few edits, so a noisy moment on the shared machine hits all of them.
The first edit after each start is kept apart from the later ones (a reloader
may not be warm yet), and the idle RSS of the whole process tree is read once
the edits are done.

Apps: the raw ASGI small app, the startproject-shaped Django site, a FastAPI
app, a Django REST framework project, a Wagtail site as ``wagtail start``
creates it (migrated, with its initial home page; ~1,900 modules), and an app
with a dependency that takes 2 s to import (``reload_apps/heavy_dependency.py``).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

from benchmarks import probe
from benchmarks.servers import BASELINE, DJANGO_DIR, SERVERS, ServerFailedError, ServerSpec, Target, launch

# Upper bound for one reload; runserver's stat reloader alone polls once a second.
RELOAD_DEADLINE_S = 15.0
RETRY_AFTER_FAILURE_S = 0.005
# Between edits: a developer looks at the page before saving again. Long enough
# for every watcher's debounce window to close, and for asgidev's spare worker
# to warm again (saves closer together than that reload from a fresh interpreter:
# see docs/reloading.md).
BETWEEN_EDITS_S = 2.0
# After the first 200, before the first edit: as a developer reads the banner.
# asgidev warms its spare worker in this time; every reloader gets the same.
SETTLE_S = 1.5
# The heavy app's dependency sleeps this long at import (reload_apps/heavy_dependency.py).
HEAVY_IMPORT_S = 2.0

APPS_DIR = Path(__file__).resolve().parent / "reload_apps"
DRF_DIR = Path(__file__).resolve().parent / "drf_site"

SMALL_APP = """\
TOKEN = b"{token}"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({{"type": message["type"] + ".complete"}})
            if message["type"] == "lifespan.shutdown":
                return
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(TOKEN)).encode())]}})
    await send({{"type": "http.response.body", "body": TOKEN}})
"""

Edit = Callable[[str], None]


def _fastapi_dev(target: Target, port: int, reload: bool) -> list[str]:
    module = target.app.split(":")[0]
    return [sys.executable, "-m", "fastapi", "dev", f"{module}.py", "--host", probe.HOST, "--port", str(port)]


def _granian(target: Target, port: int, reload: bool) -> list[str]:
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", probe.HOST, "--port", str(port), "--no-ws"]
    argv += ["--log-level", "warning", "--reload", "--reload-paths", str(target.directory), target.app]
    return argv


# Peers that exist for reloading only, so they live here rather than in servers.py.
RELOAD_PEERS = {
    spec.name: spec
    for spec in (
        ServerSpec("fastapi-dev", ("fastapi_cli", "uvicorn"), (), _fastapi_dev, "asyncio", can_reload=True),
        ServerSpec("granian", ("granian", "watchfiles"), (), _granian, "asyncio", can_reload=True),
    )
}
ALL_SERVERS: dict[str, ServerSpec] = {**SERVERS, **RELOAD_PEERS}
# app -> the servers measured on it.
# asgidev-asyncio runs where memory has a target: the tree's idle RSS before warm spares was measured on asyncio
# (asgidev had no other loop then), and uvloop, the default since, costs ~1.2 MiB in each process.
APP_SERVERS = {
    "small": ("asgidev", "asgidev-asyncio", BASELINE, "granian"),
    "django": ("asgidev", BASELINE, "runserver"),
    "fastapi": ("asgidev", "asgidev-asyncio", BASELINE, "fastapi-dev", "granian"),
    "drf": ("asgidev", "asgidev-asyncio", BASELINE, "runserver"),
    "heavy": ("asgidev", "asgidev-asyncio", BASELINE),
    "wagtail": ("asgidev", BASELINE, "runserver"),
}
RELOAD_SERVERS = ("asgidev", "asgidev-asyncio", BASELINE, "runserver", *RELOAD_PEERS)
# The framework each app needs (the bench extra installs them); an app whose framework is missing is skipped.
APP_MODULES = {"django": "django", "fastapi": "fastapi", "drf": "rest_framework", "wagtail": "wagtail"}


@dataclass(frozen=True)
class Variant:
    app: str
    server: str


def run_reload(
    servers: list[str], edits: int, log: Callable[[str], None], *, rounds: int = 3, apps: tuple[str, ...] = tuple(APP_SERVERS)
) -> tuple[list[dict[str, object]], list[str]]:
    """About ``edits`` edits per variant, spread over ``rounds`` interleaved rounds; returns samples and problems."""
    wanted = set(servers) | set(RELOAD_PEERS)
    problems: list[str] = []
    for app in apps:
        if app in APP_MODULES and find_spec(APP_MODULES[app]) is None:
            problems.append(f"reload {app}: {APP_MODULES[app]} is not installed (pip install -e '.[bench]')")
    apps = tuple(app for app in apps if app not in APP_MODULES or find_spec(APP_MODULES[app]) is not None)
    variants = [Variant(app, name) for app in apps for name in APP_SERVERS[app] if name in wanted and ALL_SERVERS[name].is_installed()]
    per_round = max(1, -(-edits // rounds))
    samples: list[dict[str, object]] = []
    for round_index in range(rounds):
        for variant in variants:
            try:
                samples += _measure(variant, round_index, per_round, log)
            except ServerFailedError as exc:
                problems.append(f"reload {variant.app} {variant.server}: {exc}")
                log(f"  ! {problems[-1]}")
    return samples, problems


_scratch_root: list[Path] = []


def _project_dir(variant: Variant) -> Path:
    """The same directory for an (app, server) pair in every round, as a developer's project stays where it is.

    What a server keeps between starts of one project (asgidev's warm set in
    its cache directory) then works as it does for a developer: the first
    round starts without it, the later ones with it. The cache directory is
    this run's own, so no earlier run takes part.
    """
    if not _scratch_root:
        root = Path(tempfile.mkdtemp(prefix="asgidev-bench-"))
        os.environ["XDG_CACHE_HOME"] = str(root / "cache-home")
        _scratch_root.append(root)
        atexit.register(shutil.rmtree, root, ignore_errors=True)
    project = _scratch_root[0] / f"{variant.app}-{variant.server}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir()
    return project


def _measure(variant: Variant, round_index: int, edits: int, log: Callable[[str], None]) -> list[dict[str, object]]:
    samples: list[dict[str, object]] = []
    scratch = _project_dir(variant)
    target, edit = MAKERS[variant.app](Path(scratch))
    with launch(ALL_SERVERS[variant.server], target, reload=True) as running:
        time.sleep(SETTLE_S)
        for index in range(edits):
            latency_ms, failed = _one_reload(running.port, target.ready_path, edit, f"token-{round_index:02d}{index + 1:03d}")
            sample: dict[str, object] = {
                "app": variant.app,
                "server": variant.server,
                "round": round_index,
                "edit": index,
                "latency_ms": latency_ms,
                "failed_requests": failed,
            }
            if index == 0:
                sample["startup_ms"] = round(running.started_s * 1000, 1)
            samples.append(sample)
            shown = "timed out" if latency_ms is None else f"{latency_ms:6.0f} ms"
            log(f"  reload {variant.app:<7} {variant.server:<12} round {round_index + 1} edit {index + 1}: {shown}, {failed} failed")
            time.sleep(BETWEEN_EDITS_S)
        time.sleep(SETTLE_S)
        rss = probe.rss_bytes(running.pid) / 2**20
        samples[-1]["idle_rss_mib"] = round(rss, 1)
    return samples


def _small_app(scratch: Path) -> tuple[Target, Edit]:
    source = scratch / "reloadapp.py"
    source.write_text(SMALL_APP.format(token="token-000"))
    return Target("reloadapp:app", scratch, "/"), lambda token: source.write_text(SMALL_APP.format(token=token))


def _token_edit(source: Path, original_token: str) -> Edit:
    original = source.read_text()

    def edit(token: str) -> None:
        source.write_text(original.replace(original_token, token))

    return edit


def _django_copy(scratch: Path) -> tuple[Target, Edit]:
    project = scratch / "site"
    shutil.copytree(DJANGO_DIR, project, ignore=shutil.ignore_patterns("__pycache__"))
    edit = _token_edit(project / "benchsite" / "views.py", 'TOKEN = "Hello, world!"')

    def replace(token: str) -> None:
        edit(f'TOKEN = "{token}"')

    return Target("benchsite.asgi:application", project, "/hello"), replace


def _fastapi_copy(scratch: Path) -> tuple[Target, Edit]:
    shutil.copy(APPS_DIR / "fastapi_main.py", scratch / "main.py")
    return Target("main:app", scratch, "/"), _token_edit(scratch / "main.py", "token-000")


def _drf_copy(scratch: Path) -> tuple[Target, Edit]:
    project = scratch / "drfsite-project"
    shutil.copytree(DRF_DIR, project, ignore=shutil.ignore_patterns("__pycache__", "db.sqlite3"))
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=project, check=True)
    return Target("drfsite.asgi:application", project, "/hello"), _token_edit(project / "notes" / "views.py", "token-000")


def _heavy_copy(scratch: Path) -> tuple[Target, Edit]:
    # The dependency stays in the repository (on PYTHONPATH, outside the watched directory), as site-packages would.
    shutil.copy(APPS_DIR / "heavy_main.py", scratch / "main.py")
    return Target("main:app", scratch, "/"), _token_edit(scratch / "main.py", "token-000")


WAGTAIL_VIEWS = """\
from django.http import HttpResponse

TOKEN = "token-000"


def hello(request):
    return HttpResponse(TOKEN, content_type="text/plain")
"""
WAGTAIL_ASGI = """\
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wsite.settings.dev")

application = get_asgi_application()
"""
_wagtail_template: list[Path] = []


def _wagtail_copy(scratch: Path) -> tuple[Target, Edit]:
    """A copy of a ``wagtail start`` site, created and migrated once per run (migrating takes ~20 s)."""
    if not _wagtail_template:
        template = Path(tempfile.mkdtemp(prefix="asgidev-bench-wagtail-")) / "wsite"
        template.mkdir()
        subprocess.run([sys.executable, "-m", "wagtail.bin.wagtail", "start", "wsite", str(template)], check=True, capture_output=True)
        (template / "home" / "views.py").write_text(WAGTAIL_VIEWS)
        (template / "wsite" / "asgi.py").write_text(WAGTAIL_ASGI)
        urls = template / "wsite" / "urls.py"
        text = urls.read_text().replace("urlpatterns = [\n", 'urlpatterns = [\n    path("hello", home_views.hello),\n', 1)
        urls.write_text("from home import views as home_views\n" + text)
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=template, check=True)
        _wagtail_template.append(template)
        atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
    project = scratch / "wsite"
    shutil.copytree(_wagtail_template[0], project, ignore=shutil.ignore_patterns("__pycache__"))
    return Target("wsite.asgi:application", project, "/hello"), _token_edit(project / "home" / "views.py", "token-000")


MAKERS: dict[str, Callable[[Path], tuple[Target, Edit]]] = {
    "small": _small_app,
    "django": _django_copy,
    "fastapi": _fastapi_copy,
    "drf": _drf_copy,
    "heavy": _heavy_copy,
    "wagtail": _wagtail_copy,
}


def _one_reload(port: int, path: str, edit: Edit, token: str) -> tuple[float | None, int]:
    """Write the edit, then request until ``token`` is served; (latency in ms or None, failed requests)."""
    failed = 0
    began = time.perf_counter()
    edit(token)
    deadline = began + RELOAD_DEADLINE_S
    while time.perf_counter() < deadline:
        try:
            reply = probe.fetch(port, path, timeout=RELOAD_DEADLINE_S)
        except (OSError, ValueError):
            failed += 1
            time.sleep(RETRY_AFTER_FAILURE_S)
            continue
        if reply.status >= 500:
            failed += 1
            time.sleep(RETRY_AFTER_FAILURE_S)
        elif token.encode() in reply.body:
            return (time.perf_counter() - began) * 1e3, failed
    return None, failed
