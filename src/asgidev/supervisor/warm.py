"""The warm set: the installed modules an app needs, learned from one worker and imported by the next in advance.

A reload should cost only the project's own code. So a serving worker tells
the supervisor which modules it has imported that live outside the watched
roots (the standard library, site-packages, other installed packages), and
the spare worker waiting for the next change imports them before that change
arrives. When GO comes, the spare imports the user's code and finds the
framework already loaded.

Four rules keep a warm reload identical to a cold start:
- Nothing under a watched root is imported while warming, not even
  indirectly. A third-party module whose import reaches for the project's code
  (say, Django settings read at import) is refused.
- A spare in which any module failed to import (refused, raised, or left a
  submodule without its package) never serves. Undoing a failed import cannot
  be made exact: a package that survives may already hold objects from the
  modules undone (a lazy ``__getattr__`` caches them: pydantic's ``BaseModel``
  did, and a reload then failed with a metaclass conflict). So the spare reports
  what failed and the supervisor starts a fresh one that leaves those modules,
  and everything inside them, for after GO, as a cold start would import them.
- A warmed file that changed on disk since it was imported (``pip install``
  into the virtualenv, an edited installed package, a ``.pth`` file, an env
  file applied before warming) makes the spare stale: it declines GO and the
  supervisor starts a cold worker instead.
- Warming stops as soon as GO is waiting, so a save during warming never
  waits for modules the new worker may not even need.

The spare is a fresh interpreter that imports, not a fork, so modules that
start threads at import are no hazard to it. Once warmed it may fork a child
that runs the app's set-up in advance, only when that is safe (prepared.py).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import logging
import os
import site
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType

from asgidev.gc_pause import collector_paused

logger = logging.getLogger("asgidev.reload")

# Names never worth warming: the running script, and modules created by hand rather than imported.
_SKIPPED = frozenset({"__main__", "__mp_main__"})


def is_under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _module_file(module: ModuleType) -> str | None:
    # abspath, not realpath: this runs over every module of a serving worker, and
    # realpath costs a system call per path component. The roots come in both forms.
    file = getattr(module, "__file__", None)
    return os.path.abspath(file) if isinstance(file, str) else None


def learn(roots: Sequence[str]) -> list[str]:
    """The imported modules with a file outside ``roots``, in import order (packages before their modules)."""
    found = []
    for name, module in list(sys.modules.items()):
        if name in _SKIPPED or module is None:
            continue
        file = _module_file(module)
        if file is not None and not is_under(file, roots):
            found.append(name)
    return found


class _ProjectCodeBlocker(importlib.abc.MetaPathFinder):
    """While warming, refuses any module that would be loaded from under a watched root."""

    def __init__(self, roots: Sequence[str]) -> None:
        self.roots = roots
        self.refused: str | None = None
        self._real_directories: dict[str, str] = {}

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        for finder in sys.meta_path:
            if finder is self:
                continue
            if not hasattr(finder, "find_spec"):
                return None  # a legacy finder: let the normal machinery decide, as it would
            spec = finder.find_spec(fullname, path, target)
            if spec is None:
                continue
            # Only real paths: built-in and frozen modules have origins like "built-in".
            locations = [*([spec.origin] if spec.has_location and spec.origin else []), *(spec.submodule_search_locations or ())]
            if any(os.path.isabs(location) and is_under(self._realpath(location), self.roots) for location in locations):
                self.refused = fullname
                raise ImportError(f"{fullname} is the project's own code: not imported while warming", name=fullname)
            # The spec the normal machinery would find next (the same finder, first to answer): not searched twice.
            return spec
        return None

    def _realpath(self, location: str) -> str:
        # realpath costs a system call per path component; a warm set has ~1,000 modules in ~100 directories.
        directory, name = os.path.split(location)
        real_directory = self._real_directories.get(directory)
        if real_directory is None:
            real_directory = self._real_directories[directory] = os.path.realpath(directory)
        real = os.path.join(real_directory, name)
        return os.path.realpath(real) if os.path.islink(real) else real


def _sys_path_sources(roots: Sequence[str]) -> list[str]:
    """Import-path directories and ``.pth`` files outside ``roots``: ``pip install`` changes one of them."""
    sources: list[str] = []
    site_dirs = [*site.getsitepackages(), site.getusersitepackages()] if hasattr(site, "getsitepackages") else []
    for directory in dict.fromkeys([*sys.path, *site_dirs]):
        if not directory or not os.path.isdir(directory) or is_under(os.path.realpath(directory), roots):
            continue
        sources.append(directory)
        with contextlib.suppress(OSError):
            sources += [entry.path for entry in os.scandir(directory) if entry.name.endswith(".pth")]
    return sources


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


class WarmState:
    """What this spare imported in advance, and the file times that prove it is still current."""

    def __init__(self) -> None:
        self.imported = 0
        self.milliseconds = 0.0
        # Modules whose import failed here (see the module docstring): this spare must not serve.
        self.failed: list[str] = []
        self._times: dict[str, int | None] = {}

    def warm(self, names: Sequence[str], roots: Sequence[str], is_interrupted: Callable[[], bool]) -> None:
        """Import ``names``, stopping early once ``is_interrupted()`` (GO is waiting).

        Each name is one step. A step that raised, reached for the project's
        code, or left a submodule whose package is gone is recorded in
        ``failed`` and undone as far as it can be, so that the rest of the list
        fails or succeeds as it would in a clean interpreter: the report of what
        failed is then complete in one pass. (A failed import leaves the
        submodules it had finished in ``sys.modules``; a later import of one of
        them would skip its missing package and fail where a cold start would not.)
        """
        began = time.perf_counter()
        before = len(sys.modules)
        real_roots = roots_of(roots)
        with _blocking_project_code(real_roots) as blocker, collector_paused():
            for name in names:
                if name in sys.modules:
                    continue
                if is_interrupted():
                    logger.debug("Warming stopped early: a change is waiting.")
                    break
                present = list(sys.modules)  # a list: copied ~5x faster than a set, and compared only when needed
                failure = ""
                try:
                    importlib.import_module(name)
                except BaseException as exc:  # it fails, or succeeds, after GO as in a cold start
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    failure = f"{type(exc).__name__}: {exc}"
                if blocker.refused is not None:
                    failure = f"its import wants the project's {blocker.refused}"
                    blocker.refused = None
                added = _added_since(present)
                if not failure and any(_parent(module) not in sys.modules for module in added if "." in module):
                    failure = "it left a submodule without its package"
                if failure:
                    self.failed.append(name)
                    _undo(added)
                    logger.debug("Not warmed: %s (%s)", name, failure)
        self.imported += len(sys.modules) - before
        self.milliseconds += (time.perf_counter() - began) * 1000
        self._record(real_roots)

    def apply_env_files(self, paths: Sequence[str]) -> None:
        """Set the env files' variables as the worker will after GO, and watch the files for staleness.

        Quietly: the worker reads them again after GO and reports any bad line then, once.
        """
        from asgidev.envfile import apply
        from asgidev.envfile import logger as env_logger

        was_disabled, env_logger.disabled = env_logger.disabled, True
        try:
            apply(paths)
        finally:
            env_logger.disabled = was_disabled
        for path in paths:
            self._times.setdefault(os.path.abspath(path), _mtime(path))

    def _record(self, roots: Sequence[str]) -> None:
        for module in list(sys.modules.values()):
            file = _module_file(module) if module is not None else None
            if file is not None and file not in self._times and not is_under(file, roots):
                self._times[file] = _mtime(file)
        for source in _sys_path_sources(roots):
            self._times.setdefault(source, _mtime(source))

    def changed_file(self) -> str | None:
        """A file recorded while warming that has changed since (None: the warm state is current)."""
        for path, recorded in self._times.items():
            if _mtime(path) != recorded:
                return path
        return None

    def unfit_reason(self) -> str | None:
        """Why this spare must not serve (None: it may): the start of the supervisor's log line."""
        if self.failed:
            return "The spare worker was still learning which installed modules import only after the app's set-up"
        changed = self.changed_file()
        return None if changed is None else f"{changed} changed since the spare worker loaded it"


def _added_since(present: list[str]) -> set[str]:
    """The modules in sys.modules now that were not in ``present`` (a copy of its keys)."""
    now = list(sys.modules)
    if now[: len(present)] == present:
        # The usual step: modules only added, at the end (a dict keeps insertion order). Checked, not assumed.
        return set(now[len(present) :])
    return set(now) - set(present)


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def _undo(added: set[str]) -> None:
    """Forget the modules of an undone step, and the package attributes that point at them."""
    for name in added:
        module = sys.modules.pop(name, None)
        parent = sys.modules.get(_parent(name)) if "." in name else None
        child = name.rpartition(".")[2]
        if parent is not None and module is not None and getattr(parent, child, None) is module:
            # Else ``from package import child`` would still find the forgotten module.
            with contextlib.suppress(AttributeError):
                delattr(parent, child)


@contextlib.contextmanager
def _blocking_project_code(roots: Sequence[str]) -> Iterator[_ProjectCodeBlocker]:
    blocker = _ProjectCodeBlocker(roots)
    sys.meta_path.insert(0, blocker)
    try:
        yield blocker
    finally:
        sys.meta_path.remove(blocker)
        # A module that failed on the blocker may have left negative entries in
        # the finders' caches; the user's code is imported after GO with fresh ones.
        importlib.invalidate_caches()


def roots_of(paths: Sequence[str | Path]) -> list[str]:
    """Watched roots both as given (absolute) and resolved, so either spelling of a module's path is recognised."""
    return list(dict.fromkeys([*(os.path.abspath(p) for p in paths), *(os.path.realpath(p) for p in paths)]))
