"""How to start each server under test, wait until it answers, and stop it.

Every server is a separate process in its own session (so Ctrl+C in the
terminal reaches the suite, which then stops them), bound to 127.0.0.1 with
its access log off, and pinned to the server CPU. ``launch`` is a context
manager: the process group is terminated, then killed, however the block
ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import IO, Literal

import asgidev
from benchmarks import probe
from benchmarks.affinity import pin, pin_server_in_child

REPO_ROOT = Path(__file__).resolve().parent.parent
DJANGO_DIR = Path(__file__).resolve().parent / "django_site"
# The directory holding the asgidev package this suite runs against.
ASGIDEV_SOURCE = str(Path(asgidev.__file__).resolve().parent.parent)
# Django's runserver checks the project first; 30 s covers a cold cache on a busy shared machine.
START_TIMEOUT_S = 30.0
# SIGTERM first so servers shut down as designed; SIGKILL after this long.
STOP_TIMEOUT_S = 5.0
# Between readiness probes of a process that is still starting.
PROBE_INTERVAL_S = 0.002

Kind = Literal["raw", "django"]
# The event loop a server runs its app on, which decides the in-process floor it is compared with
# (benchmarks/floor.py); "wsgi": Django's WSGI handler, no loop.
Loop = Literal["asyncio", "uvloop", "wsgi"]
HAS_UVLOOP = find_spec("uvloop") is not None


@dataclass(frozen=True)
class Target:
    """An app to serve: ``module:attribute``, the directory it imports from, and a path that returns 200."""

    app: str
    directory: Path
    ready_path: str


RAW = Target("benchmarks.apps.raw:app", REPO_ROOT, "/")
DJANGO = Target("benchsite.asgi:application", DJANGO_DIR, "/hello")


@dataclass(frozen=True)
class ServerSpec:
    """One server under test and how its command line is built."""

    name: str
    modules: tuple[str, ...]
    kinds: tuple[Kind, ...]
    argv: Callable[[Target, int, bool], list[str]]
    loop: Loop
    can_reload: bool = False

    def is_installed(self) -> bool:
        return all(find_spec(module) is not None for module in self.modules)


def _asgidev(target: Target, port: int, reload: bool) -> list[str]:
    """asgidev as installed: --loop auto, so uvloop when it is installed (as with asgidev[fast])."""
    argv = [sys.executable, "-m", "asgidev", target.app, "--app-dir", str(target.directory)]
    argv += ["--host", probe.HOST, "--port", str(port), "--no-access-log"]
    return argv if reload else [*argv, "--no-reload"]


def _asgidev_asyncio(target: Target, port: int, reload: bool) -> list[str]:
    return [*_asgidev(target, port, reload), "--loop", "asyncio"]


def _granian(target: Target, port: int, reload: bool) -> list[str]:
    # One worker process (granian always runs its app in a child; CPU is counted over the whole tree).
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--loop", "uvloop", "--host", probe.HOST, "--port", str(port)]
    return [*argv, "--workers", "1", "--no-ws", "--log-level", "warning", "--working-dir", str(target.directory), target.app]


def _uvicorn(http: str, loop: str) -> Callable[[Target, int, bool], list[str]]:
    def argv(target: Target, port: int, reload: bool) -> list[str]:
        line = [sys.executable, "-m", "uvicorn", target.app, "--app-dir", str(target.directory), "--host", probe.HOST]
        line += ["--port", str(port), "--http", http, "--loop", loop, "--no-access-log", "--log-level", "warning"]
        return [*line, "--reload", "--reload-dir", str(target.directory)] if reload else line

    return argv


def _hypercorn(target: Target, port: int, reload: bool) -> list[str]:
    # --workers 0 serves in this process; hypercorn's default (1) adds a supervising parent.
    return [sys.executable, "-m", "hypercorn", target.app, "--bind", f"{probe.HOST}:{port}", "--workers", "0"]


def _daphne(target: Target, port: int, reload: bool) -> list[str]:
    # -v 0: daphne writes an access log to stdout at the default verbosity.
    return [sys.executable, "-m", "daphne", "-b", probe.HOST, "-p", str(port), "-v", "0", target.app]


def _runserver(target: Target, port: int, reload: bool) -> list[str]:
    argv = [sys.executable, str(target.directory / "manage.py"), "runserver", f"{probe.HOST}:{port}"]
    return argv if reload else [*argv, "--noreload"]


BASELINE = "uvicorn-h11"
SERVERS: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec("asgidev", ("asgidev",), ("raw", "django"), _asgidev, "uvloop" if HAS_UVLOOP else "asyncio", can_reload=True),
        ServerSpec("asgidev-asyncio", ("asgidev",), ("raw", "django"), _asgidev_asyncio, "asyncio", can_reload=True),
        ServerSpec(BASELINE, ("uvicorn", "h11"), ("raw", "django"), _uvicorn("h11", "asyncio"), "asyncio", can_reload=True),
        ServerSpec("uvicorn-h11-uvloop", ("uvicorn", "h11", "uvloop"), ("raw", "django"), _uvicorn("h11", "uvloop"), "uvloop"),
        ServerSpec("uvicorn-httptools", ("uvicorn", "httptools", "uvloop"), ("raw",), _uvicorn("httptools", "uvloop"), "uvloop"),
        ServerSpec("granian", ("granian", "uvloop"), ("raw", "django"), _granian, "uvloop"),
        ServerSpec("hypercorn", ("hypercorn",), ("raw",), _hypercorn, "asyncio"),
        ServerSpec("daphne", ("daphne",), ("raw", "django"), _daphne, "asyncio"),
        ServerSpec("runserver", ("django",), ("django",), _runserver, "wsgi", can_reload=True),
    )
}


class ServerFailedError(RuntimeError):
    """The server exited or did not answer in time; the message ends with its stderr."""


@dataclass
class Running:
    """A started server: its process, port, and when it first answered."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    started_s: float

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.contextmanager
def launch(spec: ServerSpec, target: Target, *, reload: bool = False, cwd: Path | None = None) -> Iterator[Running]:
    """Start ``spec`` serving ``target``; yield once it returned a 200.

    Raises:
        ServerFailedError: it exited or did not answer within START_TIMEOUT_S.
    """
    port = probe.free_port()
    # asgidev's own source comes too, so the servers run the asgidev this suite imported (a work tree's, say).
    path = [str(target.directory), str(REPO_ROOT), ASGIDEV_SOURCE]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    with tempfile.TemporaryFile() as stderr:
        began = time.perf_counter()
        process = subprocess.Popen(
            spec.argv(target, port, reload),
            cwd=cwd or target.directory,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
            preexec_fn=pin_server_in_child,
        )
        try:
            pin(process.pid, "server")
            started = wait_until_serving(process, port, target.ready_path, stderr) - began
            yield Running(spec.name, process, port, started)
        finally:
            stop(process)


def wait_until_serving(process: subprocess.Popen[bytes], port: int, path: str, stderr: IO[bytes]) -> float:
    """Probe until ``path`` returns 200; returns the perf_counter time it did.

    Raises:
        ServerFailedError: the process exited or the deadline passed.
    """
    deadline = time.perf_counter() + START_TIMEOUT_S
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise ServerFailedError(f"exited with code {process.returncode}: {_tail(stderr)}")
        try:
            if probe.fetch(port, path, timeout=2.0).status == 200:
                return time.perf_counter()
        except (OSError, ValueError):
            pass
        time.sleep(PROBE_INTERVAL_S)
    raise ServerFailedError(f"no 200 from {path} within {START_TIMEOUT_S:.0f} s: {_tail(stderr)}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate the process group this suite created for ``process``; kill it if it lingers."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT_S)
    # The leader may be gone while reload workers in its group live on.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tail(stderr: IO[bytes]) -> str:
    stderr.seek(0)
    lines = stderr.read().decode(errors="replace").strip().splitlines()
    return " | ".join(lines[-3:])[-400:]
