"""Reload latency: a source file is written, how long until the new code answers?

Each variant serves a temporary copy of an app with its reloader on. An edit
writes a new token into the source; a client then requests until the token
appears (a new request right after each answer, and 5 ms after a refused or
failed one, so the failure count is comparable between servers). Failed
requests are connection errors and 5xx answers during the swap.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import probe
from benchmarks.servers import BASELINE, DJANGO_DIR, SERVERS, ServerFailedError, Target, launch

# Upper bound for one reload; runserver's stat reloader alone polls once a second.
RELOAD_DEADLINE_S = 15.0
RETRY_AFTER_FAILURE_S = 0.005
# Between edits, so a watcher's debounce window from the last edit has closed.
BETWEEN_EDITS_S = 0.3

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

RELOAD_VARIANTS = (("small", "asgidev"), ("small", BASELINE), ("django", "asgidev"), ("django", BASELINE), ("django", "runserver"))


def run_reload(servers: list[str], edits: int, log: Callable[[str], None]) -> tuple[list[dict[str, object]], list[str]]:
    samples: list[dict[str, object]] = []
    problems: list[str] = []
    for app, name in RELOAD_VARIANTS:
        if name not in servers or not SERVERS[name].is_installed():
            continue
        with tempfile.TemporaryDirectory(prefix="asgidev-bench-") as scratch:
            target, edit = _small_app(Path(scratch)) if app == "small" else _django_copy(Path(scratch))
            try:
                with launch(SERVERS[name], target, reload=True) as running:
                    time.sleep(BETWEEN_EDITS_S)
                    for index in range(edits):
                        latency_ms, failed = _one_reload(running.port, target.ready_path, edit, f"token-{index + 1:03d}")
                        samples.append({"app": app, "server": name, "edit": index, "latency_ms": latency_ms, "failed_requests": failed})
                        shown = "timed out" if latency_ms is None else f"{latency_ms:6.0f} ms"
                        log(f"  reload {app:<6} {name:<12} edit {index + 1:>2}: {shown}, {failed} failed requests")
                        time.sleep(BETWEEN_EDITS_S)
            except ServerFailedError as exc:
                problems.append(f"reload {app} {name}: {exc}")
                log(f"  ! {problems[-1]}")
    return samples, problems


def _small_app(scratch: Path) -> tuple[Target, Callable[[str], None]]:
    source = scratch / "reloadapp.py"
    source.write_text(SMALL_APP.format(token="token-000"))
    return Target("reloadapp:app", scratch, "/"), lambda token: source.write_text(SMALL_APP.format(token=token))


def _django_copy(scratch: Path) -> tuple[Target, Callable[[str], None]]:
    project = scratch / "site"
    shutil.copytree(DJANGO_DIR, project, ignore=shutil.ignore_patterns("__pycache__"))
    views = project / "benchsite" / "views.py"
    original = views.read_text()

    def edit(token: str) -> None:
        views.write_text(original.replace('TOKEN = "Hello, world!"', f'TOKEN = "{token}"'))

    return Target("benchsite.asgi:application", project, "/hello"), edit


def _one_reload(port: int, path: str, edit: Callable[[str], None], token: str) -> tuple[float | None, int]:
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
