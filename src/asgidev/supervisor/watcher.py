"""Watching for code changes: the watch loop, and what a batch of changes asks of the worker.

The supervisor runs ``Watcher.run`` in its task group and is handed each batch
already classified (``ChangeBatch``). Which paths count as changes at all is
``reload_rules.py``; events or polling is ``watch_mode.py``.

Serving matters more than reloading: when watching fails, at start or in the
middle of a session, the watcher says so in one line and ends; the server
serves on (docs/reloading.md, "When watching fails").
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import fnmatch
import importlib.util
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from watchfiles import Change

from asgidev.config import Config
from asgidev.envfile import env_file_paths
from asgidev.supervisor.reload_rules import ASSET_PATTERNS, TEMPLATE_PATTERNS, ReloadFilter

if TYPE_CHECKING:
    from watchfiles.main import FileChange

    from asgidev.supervisor.watch_mode import WatchMode

logger = logging.getLogger("asgidev.reload")


class ChangeKind(enum.Enum):
    """What a batch of changes asks of the running worker: the cheapest that covers every path in it."""

    SWAP_ASSETS = enum.auto()  # stylesheets only, with --live-reload: open pages swap them
    APPLY_IN_PLACE = enum.auto()  # templates or translations only: the worker drops its caches (or answers RESTART)
    RELOAD = enum.auto()  # anything else: a new worker


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """One batch of changes from watchfiles (or the poller), classified."""

    kind: ChangeKind
    paths: tuple[str, ...]
    # The changed paths relative to their watch root, sorted: what the log lines name.
    names: tuple[str, ...]

    def describe(self, limit: int = 3) -> str:
        """``polls/views.py, polls/models.py and 2 more`` for the reload log line."""
        shown = ", ".join(self.names[:limit])
        return shown + (f" and {len(self.names) - limit} more" if len(self.names) > limit else "")


class WatcherState(enum.Enum):
    """STARTING -> WATCHING -> ENDED (ENDED may come at any point: failed, no root, or cancelled)."""

    STARTING = enum.auto()  # OS watches not yet in place: an edit now could be missed
    WATCHING = enum.auto()
    ENDED = enum.auto()  # reloading has stopped for this session (said in one line unless cancelled)


class Watcher:
    """Watches ``config``'s roots and hands each classified batch to ``on_changes``."""

    def __init__(self, config: Config, on_changes: Callable[[ChangeBatch], None]) -> None:
        self.config = config
        self.state = WatcherState.STARTING
        self._on_changes = on_changes
        self._roots_changed = asyncio.Event()
        self._watching = asyncio.Event()

    async def wait_watching(self) -> None:
        """Return once no edit can be missed, or once watching has ended (failed: said; serving goes on)."""
        await self._watching.wait()

    def watch_also(self, config: Config) -> None:
        """Watch ``config``'s roots from now on (imported code outside the project); the watch line is printed again."""
        self.config = config
        if self.state is not WatcherState.ENDED:
            self._roots_changed.set()

    async def run(self) -> None:
        """Watch until cancelled; a failure is reported in one line and ends watching (never the server)."""
        try:
            await self._watch()
        except Exception as exc:  # reloading stops, serving goes on: say why once, without a traceback
            why = str(exc) or type(exc).__name__
            if self.state is WatcherState.STARTING:
                logger.error("Cannot watch files for changes (%s); serving without reloading.", why)
            else:
                logger.error("File watching stopped (%s): code changes no longer reload the server. Restart asgidev to reload again.", why)
        finally:
            self.state = WatcherState.ENDED
            self._watching.set()

    async def _watch(self) -> None:
        from asgidev.supervisor.watch_mode import watch_mode

        while True:
            self._roots_changed.clear()
            roots = watch_roots(self.config)
            if not roots:
                logger.warning("No directory to watch; code changes will not reload the server.")
                return
            mode = watch_mode(self.config, roots)
            print(mode.describe(roots), flush=True)
            await self._watch_roots(roots, reload_filter(self.config), mode)

    async def _watch_roots(self, roots: list[Path], watch_filter: ReloadFilter, mode: WatchMode) -> None:
        """Hand on batches under ``roots`` until the roots change (then return), or fail."""
        from asgidev.supervisor.watch_mode import WATCH_LIMIT_WARNING, WatchMode, changes_of, is_watch_limit_error

        logger.debug("%s", watch_filter.describe())
        batches = changes_of(roots, watch_filter, mode)
        next_batch = asyncio.ensure_future(anext(batches))
        roots_changed = asyncio.ensure_future(self._roots_changed.wait())
        # One loop turn runs the generator up to its first wait, by which time
        # watchfiles has registered its OS watches: from here no edit is missed.
        await asyncio.sleep(0)
        self.state = WatcherState.WATCHING
        self._watching.set()
        try:
            while True:
                await asyncio.wait((next_batch, roots_changed), return_when=asyncio.FIRST_COMPLETED)
                if roots_changed.done():
                    return
                try:
                    changes = next_batch.result()
                except OSError as exc:
                    if mode.is_polling or not is_watch_limit_error(exc):
                        raise
                    # Out of inotify watches (a big tree, or other watchers): poll rather than stop reloading.
                    logger.warning("%s", WATCH_LIMIT_WARNING)
                    mode = WatchMode(True, "the inotify watch limit is reached")
                    batches = changes_of(roots, watch_filter, mode)
                    next_batch = asyncio.ensure_future(anext(batches))
                    continue
                if gone := [root for root in roots if not root.is_dir()]:
                    # The OS dropped its watches with the directory: nothing more would ever arrive.
                    raise FileNotFoundError(f"the watched directory {gone[0]} was removed")
                next_batch = asyncio.ensure_future(anext(batches))
                batch = classify(changes, roots, with_assets=self.config.live_reload)
                if batch.kind is ChangeKind.RELOAD:
                    forget_bytecode(batch.paths)
                self._on_changes(batch)
        except asyncio.CancelledError:
            next_batch.cancel()
            # Let watchfiles stop its thread and drop its OS watches before the loop closes.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await next_batch
            raise
        finally:
            next_batch.cancel()
            roots_changed.cancel()


def classify(changes: set[FileChange], roots: Sequence[Path], *, with_assets: bool) -> ChangeBatch:
    """What ``changes`` ask of the worker (see ``ChangeKind``)."""
    paths = [path for _, path in changes]
    names = tuple(short_names(changes, roots))
    if with_assets and all(is_asset(path) for path in paths):
        return ChangeBatch(ChangeKind.SWAP_ASSETS, tuple(paths), names)
    if all(is_template_or_translation(path) for path in paths):
        return ChangeBatch(ChangeKind.APPLY_IN_PLACE, tuple(paths), names)
    return ChangeBatch(ChangeKind.RELOAD, tuple(paths), names)


def watch_roots(config: Config) -> list[Path]:
    """The directories to watch."""
    dirs = config.reload_dirs or (config.app_dir,)
    return [Path(d).resolve() for d in dirs if os.path.isdir(d)]


def with_more_roots(config: Config, roots: Sequence[str]) -> Config | None:
    """``config`` watching ``roots`` too (imported code outside site-packages); None when it watches them already."""
    watched = [str(root) for root in watch_roots(config)]
    new = [root for root in roots if root not in watched]
    return config.replace(reload_dirs=(*watched, *new)) if new else None


def reload_filter(config: Config) -> ReloadFilter:
    """The filter for ``config``'s roots and globs."""
    return ReloadFilter(
        watch_roots(config),
        config.reload_includes,
        config.reload_excludes,
        with_assets=config.live_reload,
        env_files=env_file_paths(config),
    )


def is_template_or_translation(path: str) -> bool:
    """A file a running Django worker can pick up by dropping caches, without a restart."""
    parts = Path(path).parts
    name = parts[-1]
    if fnmatch.fnmatch(name, "*.mo"):
        return True
    return "templates" in parts[:-1] and any(fnmatch.fnmatch(name, p) for p in TEMPLATE_PATTERNS)


def is_asset(path: str) -> bool:
    """A file live reload swaps in place instead of restarting the worker."""
    return any(fnmatch.fnmatch(os.path.basename(path), pattern) for pattern in ASSET_PATTERNS)


def short_names(changes: set[tuple[Change, str]], roots: Sequence[Path]) -> list[str]:
    """The changed paths relative to their watch root, sorted."""
    return sorted({_short(path, roots) for _, path in changes})


def _short(path: str, roots: Sequence[Path]) -> str:
    for root in roots:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            continue
    return path


def forget_bytecode(paths: Sequence[str]) -> None:
    """Delete the cached bytecode of changed modules.

    Python trusts a ``.pyc`` whose recorded source size and mtime (in whole
    seconds) match; an edit that keeps the size within the same second (one
    digit changed) would otherwise load the old code.
    """
    for path in paths:
        if path.endswith(".py"):
            with contextlib.suppress(OSError, ValueError):
                os.unlink(importlib.util.cache_from_source(path))
