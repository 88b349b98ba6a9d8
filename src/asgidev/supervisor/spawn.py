"""Start a worker process that waits for GO, and the one started before the command line is parsed.

Kept to the standard library and the control channel so that ``asgidev``
can start its first worker before importing typer: the worker's imports then
overlap with argument parsing, socket binding and the supervisor's own imports.

That first worker is forked, not executed anew: at that point the process is
a bare interpreter (one thread, no event loop, nothing of asgidev loaded but
this module), so the child skips Python's own start-up, which is about a
fifth of the time to the first response. Later workers start while the
supervisor runs threads and an event loop, where forking is unsafe, so they
are fresh interpreters (``python -m asgidev.supervisor.worker``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import NoReturn, Protocol

from asgidev.supervisor.control import ENV_CONTROL_FD, ControlChannel
from asgidev.supervisor.fork_safety import can_fork_safely

# Options after which no reload worker will be wanted: don't start one early for them.
_NO_WORKER_FLAGS = frozenset({"--no-reload", "--noreload", "--help", "-h", "--version"})


class WorkerProcess(Protocol):
    """What the supervisor needs of a worker process (``subprocess.Popen`` has it)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


class ForkedProcess:
    """A forked child, with the part of ``subprocess.Popen``'s interface the supervisor uses."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                # Reaped by the system (SIGCHLD ignored by whoever started us): Popen says 0 too.
                self.returncode = 0
                return 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        """Wait for exit (polling, as ``Popen.wait`` with a timeout does); raises ``subprocess.TimeoutExpired``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.0005
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        return code

    def kill(self) -> None:
        if self.returncode is None:  # not reaped yet, so the pid is still ours (a zombie at worst)
            os.kill(self.pid, signal.SIGKILL)


_early: tuple[WorkerProcess, ControlChannel] | None = None


def spawn_worker() -> tuple[WorkerProcess, ControlChannel]:
    """A worker process waiting on its control channel (a WARM message may tell it what to import meanwhile)."""
    control, theirs = ControlChannel.pair()
    env = dict(os.environ)
    env[ENV_CONTROL_FD] = str(theirs.fileno())
    # The interpreter's own options (-X dev, -W, -O) carry over, as they do to the forked first worker.
    flags = subprocess._args_from_interpreter_flags()  # type: ignore[attr-defined]  # what multiprocessing uses
    process = subprocess.Popen([sys.executable, *flags, "-m", "asgidev.supervisor.worker"], env=env, pass_fds=(theirs.fileno(),))
    theirs.close()
    return process, control


def _fork_worker() -> tuple[WorkerProcess, ControlChannel]:
    """A worker forked from this still-bare process (see the module docstring)."""
    # asyncio is the largest import the two processes share: imported once,
    # here, the child has it for free and the machine does that work once.
    import asyncio  # noqa: F401

    control, theirs = ControlChannel.pair()
    # Ctrl+C is the supervisor's to handle: the child is born ignoring it,
    # so not even one pressed during the fork can interrupt it.
    sigint_handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pid = os.fork()
    except OSError:  # out of processes or memory: a fresh interpreter may still fit later
        signal.signal(signal.SIGINT, sigint_handler)
        control.close()
        theirs.close()
        return spawn_worker()
    if pid == 0:
        _become_worker(control, theirs)
    signal.signal(signal.SIGINT, sigint_handler)
    theirs.close()
    return ForkedProcess(pid), control


def _become_worker(control: ControlChannel, theirs: socket.socket) -> NoReturn:
    """In the forked child: look like a worker started with ``python -m asgidev.supervisor.worker``, and be one."""
    # Its copy of the supervisor's end must go, or the supervisor's death would
    # never reach it as end-of-file; so must descriptors this process inherited
    # from its own parent, which Popen would not have passed on either.
    control.close()
    _close_inherited_fds(keep=theirs.fileno())
    from asgidev.supervisor import worker

    # As in workers started later: sys.argv names the worker module, not
    # asgidev's options, and sys.path starts with the working directory, as -m puts it.
    sys.argv[:] = [worker.__file__]
    if not sys.flags.safe_path:
        sys.path[0] = os.getcwd()
    # Leave through SystemExit, not os._exit, so the app's atexit hooks and
    # logging flush run as in any worker. Nothing above catches it (see can_fork_safely).
    raise SystemExit(worker.run_worker(theirs))


def _close_inherited_fds(keep: int) -> None:
    """Close inheritable descriptors above stderr except ``keep`` (Python opens its own non-inheritable)."""
    fd_dir = "/proc/self/fd" if os.path.isdir("/proc/self/fd") else "/dev/fd"
    for name in os.listdir(fd_dir):
        fd = int(name)
        if fd > 2 and fd != keep:
            with contextlib.suppress(OSError):  # the listing's own descriptor is already gone
                if os.get_inheritable(fd):
                    os.close(fd)


def spawn_early(argv: list[str]) -> None:
    """Start the first worker now, unless the command line clearly will not need one."""
    global _early
    if _NO_WORKER_FLAGS.intersection(argv) or _early is not None:
        return
    _early = _fork_worker() if can_fork_safely() else spawn_worker()
    atexit.register(_discard_early)


def take_early() -> tuple[WorkerProcess, ControlChannel] | None:
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
