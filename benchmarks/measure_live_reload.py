"""Browser live reload: file saved -> the open page shows the new content (issue 9).

Drives Debian's headless Chromium over the DevTools protocol (the driver the
test suite uses, ``tests/browser.py``) against ``asgidev --live-reload`` on a
small HTML app and on the Django benchmark project, and times each edit until
the page's text shows the new token.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import probe
from benchmarks.affinity import pin_server_in_child
from benchmarks.measure_reload import _django_copy
from benchmarks.servers import REPO_ROOT

SMALL_PAGE = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b"<html><body><h1>{token}</h1></body></html>"
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/html")]}})
    await send({{"type": "http.response.body", "body": body}})
"""
PAGE_DEADLINE_S = 15.0
# Let the spare worker come up between edits, as between a developer's saves.
BETWEEN_EDITS_S = 0.5


def run_live_reload(edits: int, log: Callable[[str], None]) -> tuple[list[dict[str, object]], list[str]]:
    """Time ``edits`` saves per app; returns samples and problems (e.g. no chromium)."""
    sys.path.insert(0, str(REPO_ROOT))
    from tests.browser import Browser, find_chromium

    executable = find_chromium()
    if executable is None:
        return [], ["live reload: chromium is not installed (apt-get install --no-install-recommends chromium)"]
    samples: list[dict[str, object]] = []
    for app in ("small", "django"):
        with tempfile.TemporaryDirectory(prefix="asgidev-live-") as scratch:
            spec, directory, path, edit = _target(app, Path(scratch))
            port = probe.free_port()
            env = {**os.environ, "PYTHONPATH": str(directory), "PYTHONDONTWRITEBYTECODE": "1"}
            env.pop("DJANGO_SETTINGS_MODULE", None)
            argv = [sys.executable, "-m", "asgidev", spec, "--port", str(port), "--live-reload", "--no-access-log"]
            server = subprocess.Popen(
                argv,
                cwd=directory,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=pin_server_in_child,  # the browser stays on the client CPU
            )
            browser = Browser(executable)
            try:
                _wait_serving(port, path)
                browser.navigate(f"http://127.0.0.1:{port}{path}")
                browser.wait_for("document.body && document.body.innerText.includes('token-000')", True, PAGE_DEADLINE_S)
                for index in range(1, edits + 1):
                    time.sleep(BETWEEN_EDITS_S)
                    token = f"token-{index:03d}"
                    began = time.perf_counter()
                    edit(token)
                    browser.wait_for(f"document.body && document.body.innerText.includes('{token}')", True, PAGE_DEADLINE_S)
                    latency_ms = (time.perf_counter() - began) * 1e3
                    samples.append({"app": app, "edit": index, "latency_ms": latency_ms})
                    log(f"  live reload {app:<6} edit {index:>2}: {latency_ms:6.0f} ms")
            finally:
                browser.close()
                server.terminate()
                server.wait(30)
    return samples, []


def _wait_serving(port: int, path: str) -> None:
    deadline = time.perf_counter() + PAGE_DEADLINE_S
    while time.perf_counter() < deadline:
        try:
            if probe.fetch(port, path).status == 200:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    raise TimeoutError(f"asgidev did not answer on port {port}")


def _target(app: str, scratch: Path) -> tuple[str, Path, str, Callable[[str], None]]:
    if app == "small":
        source = scratch / "liveapp.py"
        source.write_text(SMALL_PAGE.format(token="token-000"))

        def edit(token: str) -> None:
            tmp = scratch / ".liveapp.tmp"
            tmp.write_text(SMALL_PAGE.format(token=token))
            os.replace(tmp, source)

        return "liveapp:app", scratch, "/", edit
    target, edit_view = _django_copy(scratch)
    edit_view("token-000")
    return target.app, target.directory, "/page", edit_view


def summarize(samples: list[dict[str, object]]) -> dict[str, dict[str, float]]:
    """Median and worst latency per app."""
    out: dict[str, dict[str, float]] = {}
    for app in ("small", "django"):
        values = sorted(float(s["latency_ms"]) for s in samples if s["app"] == app)  # type: ignore[arg-type]
        if values:
            out[app] = {"median_ms": values[len(values) // 2], "worst_ms": values[-1], "edits": len(values)}
    return out


if __name__ == "__main__":
    if shutil.which("chromium") is None:
        print("chromium not installed")
    found, problems = run_live_reload(10, print)
    print(summarize(found), problems)
