"""The prepared spare: the app's own set-up run before the change arrives, used only if nothing it read changed.

Warming (warm.py) spares a reload the framework's imports, but not the app's
set-up: ``django.setup()`` imports every app's models and runs every
``ready()``, which for a project such as Wagtail's demo is ~350 ms of a ~600 ms
reload, and almost no save touches it (views, URLconfs, forms and templates are
what one edits). So once a spare has warmed, it forks a child that runs the
set-up as a worker would after GO (``load_app(in_advance=True)``: for Django
everything but the URLconf and the views it imports), and waits.

At GO the spare offers GO to the child. The child serves only if it is exactly
what a cold start would be: an audit hook recorded every file the set-up read
and every directory it listed, and none may differ now (a file's time, size and
inode; a directory's names, or for the import system's listings the names of
importable entries); the configuration must be GO's. Otherwise the child exits
and the spare loads the app itself, as it does without a child.

Rules that keep it exact:
- The spare forks only when it is safe: one thread, no event loop (it has
  none before GO), no tracer; on Linux, where the child can be told to die with
  its parent (``PR_SET_PDEATHSIG``).
- A set-up that reaches outside the file system (a database connection, a
  socket, a subprocess) is not kept: what it saw may change without a file
  changing.
- Its output (import-time prints, warnings) is held back and printed when the
  child serves, so a discarded set-up prints nothing and a used one prints once,
  when a cold start would. A terminal stays a terminal (a pseudo-terminal of the
  same size holds it), so colour detection sees what it would.
- A set-up quicker than ``PREPARE_WORTH_MS`` is not kept: the child would cost
  memory for nothing (a FastAPI app's set-up is importing the very file saved).

When the child takes over, the spare replaces itself (exec) by a tiny waiter
that exits as the child does: the supervisor's handle on the process, its kill
(the child dies with the waiter) and the exit codes it reports stay as they are.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NoReturn

from asgidev.loaded_app import LoadedApp
from asgidev.supervisor.control import ControlChannel, GoOptions, Kind, Message, WarmRequest, config_from_json
from asgidev.supervisor.fork_safety import can_fork_safely
from asgidev.supervisor.held_output import HeldOutput
from asgidev.supervisor.warm import is_under, roots_of

# A set-up quicker than this is not kept (see the module docstring).
PREPARE_WORTH_MS = 100.0
# How long the spare waits for its child's answer to GO (checking ~1,000 files takes a few ms).
OFFER_TIMEOUT_S = 5.0
# Audit events after which what the set-up saw may change without a file changing.
_OUTSIDE_EVENTS = frozenset(
    {
        "socket.connect",
        "socket.sendto",
        "socket.sendmsg",
        "sqlite3.connect",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
    }
)
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
# Kernel and device files change by themselves; bytecode follows its source.
_VOLATILE_PREFIXES = ("/proc/", "/sys/", "/dev/")
_IMPORTLIB_FILE = "<frozen importlib._bootstrap_external>"
_IMPORTABLE_SUFFIXES = frozenset(importlib.machinery.all_suffixes())
_PR_SET_PDEATHSIG = 1
# Run in place of the spare once its child serves: exit as the child does.
_WAITER = """
import os, signal, sys
for number in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(number, signal.SIG_IGN)
code = os.waitstatus_to_exitcode(os.waitpid(int(sys.argv[1]), 0)[1])
if code < 0:
    signal.signal(-code, signal.SIG_DFL)
    os.kill(os.getpid(), -code)
os._exit(code & 255)
"""

Stamp = tuple[int, int, int] | None


def _stamp(path: str) -> Stamp:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size, status.st_ino


def _is_derived(path: str) -> bool:
    return path.startswith(_VOLATILE_PREFIXES) or "__pycache__" in path or path.endswith(".pyc")


def _names(directory: str, *, importable_only: bool) -> frozenset[str] | None:
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    if importable_only:
        # The import system looks for modules: a database journal or a log file coming and going is no change to it.
        names = [name for name in names if "." not in name or os.path.splitext(name)[1] in _IMPORTABLE_SUFFIXES]
    return frozenset(names)


def _is_private_database(event: str, args: tuple[object, ...]) -> bool:
    """An in-memory SQLite database (a library probing for a feature, as Wagtail's search does): nothing outside to change."""
    return event == "sqlite3.connect" and args[:1] in ((":memory:",), (b":memory:",), ("",))


class _Reads:
    """What the set-up reads of the file system, recorded by an audit hook (which stays: it stops recording)."""

    def __init__(self) -> None:
        self.files: set[str] = set()
        self.listed: set[str] = set()
        self.listed_by_importer: set[str] = set()
        self.reached_out = ""
        self.recording = True

    def hook(self, event: str, args: tuple[object, ...]) -> None:
        if not self.recording:
            return
        try:
            if event == "open":
                path, mode, flags = args
                is_write = (
                    any(c in mode for c in "wax+") if isinstance(mode, str) else isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
                )
                # What the app writes (a log file) is its output; only what it reads shapes the set-up.
                if isinstance(path, (str, bytes)) and not is_write:
                    self.files.add(os.path.abspath(os.fsdecode(path)))
            elif event in ("os.listdir", "os.scandir"):
                path = args[0] if args[0] is not None else "."
                if isinstance(path, (str, bytes)):
                    directory = os.path.abspath(os.fsdecode(path))
                    caller = sys._getframe(1).f_code.co_filename
                    (self.listed_by_importer if caller == _IMPORTLIB_FILE else self.listed).add(directory)
            elif event in _OUTSIDE_EVENTS and not self.reached_out and not _is_private_database(event, args):
                self.reached_out = event
        except Exception:  # a hook that raises would break the app's own call
            pass


class _Snapshot:
    """The state of what the set-up read, to tell at GO whether a cold start would see the same."""

    def __init__(self, reads: _Reads, module_files: set[str], roots: list[str]) -> None:
        self.stamps = {path: _stamp(path) for path in reads.files | module_files if not _is_derived(path)}
        self.listings: dict[tuple[str, bool], frozenset[str] | None] = {}
        for directory, importable_only in [*((d, True) for d in reads.listed_by_importer), *((d, False) for d in reads.listed)]:
            if _is_derived(directory + os.sep):
                continue
            if is_under(directory, roots):
                # Names, not times: an editor's save by rename changes the directory's time, not its names.
                self.listings[directory, importable_only] = _names(directory, importable_only=importable_only)
            else:
                self.stamps[directory] = _stamp(directory)

    def changed(self) -> str | None:
        """A file or directory that differs now (None: a cold start would read the same)."""
        for path, stamp in self.stamps.items():
            if _stamp(path) != stamp:
                return path
        for (directory, importable_only), names in self.listings.items():
            if _names(directory, importable_only=importable_only) != names:
                return directory
        return None


@dataclass
class _Prepared:
    """The child's set-up, ready to serve a GO it is still current for."""

    loaded: LoadedApp
    snapshot: _Snapshot
    held: HeldOutput
    config: str
    milliseconds: float

    def unfit_reason(self, go: GoOptions) -> str | None:
        if go.crash_report:
            return "the reload shows a crash report"
        if go.config != self.config:
            return "the configuration changed since the set-up ran"
        changed = self.snapshot.changed()
        return None if changed is None else f"{changed} changed since the set-up ran"


# Serves a GO in the process that calls it: the worker's own GO path, given the set-up done in advance.
ServeGo = Callable[[Message, LoadedApp], int]


class PreparedChild:
    """The spare's handle on its child."""

    def __init__(self, pid: int, channel: ControlChannel) -> None:
        self.pid = pid
        self.channel = channel
        self.prepared_ms: float | None = None
        self.declined = ""

    def _read_reports(self) -> None:
        self.channel.sock.setblocking(False)
        try:
            messages = self.channel.receive_available()
        except (ConnectionError, OSError):
            self.declined = self.declined or "the set-up ended"
            return
        finally:
            self.channel.sock.setblocking(True)
        for message in messages:
            if message.kind is Kind.PREPARED:
                self.prepared_ms = json.loads(message.payload)["ms"]
            elif message.kind is Kind.STALE:
                self.declined = message.payload.decode(errors="replace")

    def discard(self) -> None:
        """End the child (it holds nothing anyone needs) and collect it."""
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.channel.close()

    def offer(self, go: Message, control: ControlChannel) -> str:
        """Hand GO to the child: "" if it took it (the caller becomes its waiter), else why not (the child is gone)."""
        self._read_reports()
        if not self.declined and self.prepared_ms is None:
            self.declined = "the set-up was still running in advance"
        if self.declined:
            self.discard()
            return self.declined
        reply: Message | None = None
        with contextlib.suppress(OSError):
            self.channel.send(Kind.GO, go.payload, go.fds)
            self.channel.sock.settimeout(OFFER_TIMEOUT_S)
            reply = self.channel.wait_message()
        if reply is None or reply.kind is not Kind.TAKEN:
            reason = reply.payload.decode(errors="replace") if reply is not None else "the set-up did not answer"
            self.discard()
            return reason
        # Messages the supervisor sent after GO (a STOP, say) were read here: they are the child's now.
        for message in control.take_queued():
            self.channel.send(message.kind, message.payload, message.fds)
        return ""


def start(request: WarmRequest, control: ControlChannel, serve_go: ServeGo) -> PreparedChild | str:
    """Fork a child that runs the app's set-up in advance; or say why not."""
    if not sys.platform.startswith("linux"):
        return "the set-up runs in advance on Linux only"
    if not can_fork_safely():
        return "a module started a thread while warming, so the spare cannot fork"
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    parent = os.getpid()
    try:
        pid = os.fork()
    except OSError as exc:
        ours.close()
        theirs.close()
        return f"the spare could not fork ({exc})"
    if pid == 0:
        ours.close()
        _run_child(ControlChannel(theirs), control, request, parent, serve_go)
    theirs.close()
    return PreparedChild(pid, ControlChannel(ours))


def _run_child(channel: ControlChannel, control: ControlChannel, request: WarmRequest, parent: int, serve_go: ServeGo) -> NoReturn:
    """In the child: prepare, wait for GO, and serve it if still current. Leaves by os._exit unless it serves."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the spare died before the line above took effect
            os._exit(0)
        outcome = _prepare(request)
        if isinstance(outcome, str):
            channel.send(Kind.STALE, outcome.encode())
            os._exit(0)
        channel.send(Kind.PREPARED, json.dumps({"ms": round(outcome.milliseconds)}).encode())
        channel.sock.settimeout(None)
        message = channel.wait_message()
        if message is None or message.kind is not Kind.GO:
            os._exit(0)
        go = message
        unfit = outcome.unfit_reason(GoOptions.decode(go.payload))
        if unfit is not None:
            channel.send(Kind.STALE, unfit.encode())
            os._exit(0)
        channel.send(Kind.TAKEN)
        forwarded = []
        while (message := channel.wait_message()) is not None:  # until the spare's exec closes its end
            forwarded.append(message)
        channel.close()
        control.requeue(forwarded)
        outcome.held.release()
    except BaseException:
        os._exit(1)
    # Through SystemExit, as any worker leaves, so the app's atexit hooks run.
    raise SystemExit(serve_go(go, outcome.loaded))


def _prepare(request: WarmRequest) -> _Prepared | str:
    """Run the app's set-up with its reads recorded and its output held: the prepared state, or why it is not kept."""
    from asgidev.errors import AppImportError
    from asgidev.log import configure_logging
    from asgidev.runner import load_app

    reads = _Reads()
    sys.addaudithook(reads.hook)
    # Forget the directory listings inherited from the spare, so every one the set-up relies on is listed, and seen.
    importlib.invalidate_caches()
    present = set(sys.modules)
    held = HeldOutput()
    began = time.perf_counter()
    config = config_from_json(request.config)
    try:
        configure_logging(config)
        loaded = load_app(config, in_advance=True)
    except AppImportError:
        return "the app does not load as saved"
    except Exception as exc:
        return f"the set-up raised {type(exc).__name__} in advance"
    finally:
        reads.recording = False
    milliseconds = (time.perf_counter() - began) * 1000
    if reads.reached_out:
        return f"the set-up reaches outside the file system ({reads.reached_out})"
    if milliseconds < PREPARE_WORTH_MS:
        return f"the set-up takes {milliseconds:.0f} ms, not worth running in advance"
    module_files = set()
    for name in set(sys.modules) - present:
        file = getattr(sys.modules[name], "__file__", None)
        if isinstance(file, str):
            module_files.add(os.path.abspath(file))
    return _Prepared(loaded, _Snapshot(reads, module_files, roots_of(request.watch_roots)), held, request.config, milliseconds)


def become_waiter(child: int) -> NoReturn:
    """Replace this spare by a waiter that exits as ``child`` does (see the module docstring)."""
    os.closerange(3, 1 << 16)  # the waiter must hold no channel or socket the child serves on
    with contextlib.suppress(OSError):
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", _WAITER, str(child)])
    # No exec: wait here, holding this interpreter's memory.
    os._exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]) & 255)
