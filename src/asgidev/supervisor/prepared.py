"""The prepared spare: the app's own set-up run before the change arrives, used only if nothing it read changed.

Warming (warm.py) spares a reload the framework's imports, but not the app's
set-up: ``django.setup()`` imports every app's models and runs every
``ready()``, which for a project such as a Wagtail site is ~500 ms of a
~600 ms reload, and almost no save touches it (views, URLconfs, forms and
templates are what one edits). So a warmed spare of a Django project whose
set-up is slow first forks a **seed** (seed.py: a copy of itself as it is,
warm and before any set-up), then runs the set-up itself as a worker would
after GO (``load_app(in_advance=True)``: everything but the URLconf and the
views it imports), and waits.

At GO the spare serves only if it is exactly what a cold start would be: an
audit hook recorded every file the set-up read and every directory it listed,
and none may differ now (a file's time, size and inode; a directory's names,
or for the import system's listings the names of importable entries); the
configuration must be GO's. Otherwise it declines (STALE), and the supervisor
hands GO to the seed, which loads the app after GO as any warm spare does.

Rules that keep it exact:
- A set-up that reaches outside the file system (a database connection, a
  socket, a subprocess) is not kept: what it saw may change without a file
  changing.
- Its output (import-time prints, warnings) is held back and printed when the
  spare serves, so a discarded set-up prints nothing and a used one prints
  once, when a cold start would (held_output.py).
- The seed is forked before the audit hook is added (hooks cannot be
  removed) and before anything of the project is imported.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import time
from dataclasses import dataclass

from asgidev.loaded_app import LoadedApp
from asgidev.supervisor.control import GoOptions, WarmRequest, config_from_json
from asgidev.supervisor.held_output import HeldOutput
from asgidev.supervisor.warm import is_under, roots_of

# How far before the set-up's start a modification counts as made during it (see _Snapshot).
SAVED_DURING_MARGIN_NS = 50_000_000
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
    """The state of what the set-up read, to tell at GO whether a cold start would see the same.

    Taken when the set-up has finished, so a file changed while it ran (a save
    then) would look unchanged at GO though the set-up may have read the old
    version: whatever was modified after ``began_ns`` counts as changed.
    """

    def __init__(self, reads: _Reads, module_files: set[str], roots: list[str], began_ns: int) -> None:
        self.stamps = {path: _stamp(path) for path in reads.files | module_files if not _is_derived(path)}
        self.listings: dict[tuple[str, bool], frozenset[str] | None] = {}
        for directory, importable_only in [*((d, True) for d in reads.listed_by_importer), *((d, False) for d in reads.listed)]:
            if _is_derived(directory + os.sep):
                continue
            if is_under(directory, roots):
                # Names, not times: an editor's save by rename changes the directory's time, not its names.
                self.listings[directory, importable_only] = _names(directory, importable_only=importable_only)
                if importable_only and (stamp := _stamp(directory)) is not None and stamp[0] >= began_ns:
                    self.stamps[directory] = None  # its names may have changed after the import system listed them
            else:
                self.stamps[directory] = _stamp(directory)
        self.changed_during = next((path for path, stamp in self.stamps.items() if stamp is not None and stamp[0] >= began_ns), None)

    def changed(self) -> str | None:
        """A file or directory that differs now (None: a cold start would read the same)."""
        if self.changed_during is not None:
            return self.changed_during
        for path, stamp in self.stamps.items():
            if _stamp(path) != stamp:
                return path
        for (directory, importable_only), names in self.listings.items():
            if _names(directory, importable_only=importable_only) != names:
                return directory
        return None


@dataclass
class Prepared:
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


def prepare(request: WarmRequest) -> Prepared | str:
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
    # File times come from a coarse clock (a tick of a few ms): a little before now counts as during.
    began_ns = time.time_ns() - SAVED_DURING_MARGIN_NS
    config = config_from_json(request.config)
    try:
        configure_logging(config)
        loaded = load_app(config, in_advance=True)
    except AppImportError:
        return "the app does not load as saved"
    except BaseException as exc:  # SystemExit from a settings module too: this process must not serve now
        if isinstance(exc, KeyboardInterrupt):
            raise
        return f"the set-up raised {type(exc).__name__} in advance"
    finally:
        reads.recording = False
    milliseconds = (time.perf_counter() - began) * 1000
    if reads.reached_out:
        return f"the set-up reaches outside the file system ({reads.reached_out})"
    module_files = set()
    for name in set(sys.modules) - present:
        file = getattr(sys.modules[name], "__file__", None)
        if isinstance(file, str):
            module_files.add(os.path.abspath(file))
    return Prepared(loaded, _Snapshot(reads, module_files, roots_of(request.watch_roots), began_ns), held, request.config, milliseconds)
