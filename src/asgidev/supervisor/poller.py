"""Polling for changes, where OS file events do not arrive (``--reload-poll``, shares, the inotify limit).

asgidev polls itself rather than use watchfiles' poller, which compares
modification times in whole seconds (a second save within the same second is
never seen) and walks ignored directories (``node_modules``, ``.venv``) on
every pass. Here each pass stats every file once, in a thread, and compares
nanosecond mtime, size and inode; directories the reload filter ignores are
not entered at all.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from watchfiles import Change

from asgidev.supervisor.reload_rules import ReloadFilter

# (mtime in ns, size, inode): an edit that keeps size and second still changes the first; a rename-over the last.
Stamp = tuple[int, int, int]


class Poller:
    """An async iterator of change batches, like ``watchfiles.awatch``, by polling every ``interval_s``."""

    def __init__(self, roots: Sequence[Path], watch_filter: ReloadFilter, interval_s: float) -> None:
        self.roots = list(roots)
        self.watch_filter = watch_filter
        self.interval_s = interval_s
        # Taken now, before the caller says it is watching: an edit from here on is seen.
        self._snapshot = self._scan()

    def __aiter__(self) -> Poller:
        return self

    async def __anext__(self) -> set[tuple[Change, str]]:
        while True:
            # The polling interval itself, not a wait for something observable: polling is the point.
            await asyncio.sleep(self.interval_s)
            current = await asyncio.to_thread(self._scan)
            changes = {change for change in _diff(self._snapshot, current) if self.watch_filter(*change)}
            self._snapshot = current
            if changes:
                return changes

    def _scan(self) -> dict[str, Stamp]:
        stamps: dict[str, Stamp] = {}
        pending = [str(root) for root in self.roots]
        while pending:
            directory = pending.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:  # vanished or unreadable mid-scan: the next pass sees what is there
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        if not self.watch_filter.is_ignored_dir(entry.path):
                            pending.append(entry.path)
                    elif entry.is_file():
                        info = entry.stat()
                        stamps[entry.path] = (info.st_mtime_ns, info.st_size, info.st_ino)
                except OSError:
                    continue
        return stamps


def _diff(before: dict[str, Stamp], after: dict[str, Stamp]) -> set[tuple[Change, str]]:
    changes = {(Change.deleted, path) for path in before.keys() - after.keys()}
    changes |= {(Change.added, path) for path in after.keys() - before.keys()}
    changes |= {(Change.modified, path) for path in after.keys() & before.keys() if after[path] != before[path]}
    return changes
