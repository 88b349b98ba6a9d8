"""Start a worker process that waits for GO, and the one started before the command line is parsed.

Kept to the standard library and the control channel so that ``asgidev``
can start its first worker before importing typer: the worker's interpreter
start-up and imports then overlap with argument parsing, socket binding and
the supervisor's own imports.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

from asgidev.supervisor.handoff import ENV_APP_DIR, ENV_CONTROL_FD, ControlChannel

# Options after which no reload worker will be wanted: don't start one early for them.
_NO_WORKER_FLAGS = frozenset({"--no-reload", "--noreload", "--help", "-h", "--version"})

_early: tuple[subprocess.Popen[bytes], ControlChannel] | None = None


def spawn_worker(app_dir: str | None = None) -> tuple[subprocess.Popen[bytes], ControlChannel]:
    """A worker process waiting on its control channel; ``app_dir`` lets it pre-import what the app needs."""
    control, theirs = ControlChannel.pair()
    env = dict(os.environ)
    env[ENV_CONTROL_FD] = str(theirs.fileno())
    if app_dir is None:
        env.pop(ENV_APP_DIR, None)
    else:
        env[ENV_APP_DIR] = app_dir
    process = subprocess.Popen([sys.executable, "-m", "asgidev.supervisor.worker"], env=env, pass_fds=(theirs.fileno(),))
    theirs.close()
    return process, control


def spawn_early(argv: list[str]) -> None:
    """Start the first worker now, unless the command line clearly will not need one."""
    global _early
    if _NO_WORKER_FLAGS.intersection(argv) or _early is not None:
        return
    _early = spawn_worker()
    atexit.register(_discard_early)


def take_early() -> tuple[subprocess.Popen[bytes], ControlChannel] | None:
    """The early worker, for the supervisor to adopt (only once)."""
    global _early
    early, _early = _early, None
    return early


def _discard_early() -> None:
    """Not adopted (an error, or --no-reload after all): end it. Closing its channel makes it exit."""
    early = take_early()
    if early is not None:
        process, control = early
        control.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
