"""The warm set kept between runs, so the first spare after a start is as warm as the later ones.

A Django project needs a few spares to learn which installed modules import
only after ``django.setup()`` (see warm.py); without this file every start
would learn it again, and the first saves of a session would start cold.

What is kept is a hint, never a source of truth: the rules that make a warm
reload serve what a cold start would (nothing under a watched root, a spare
in which anything failed never serves, changed files make it stale) hold
whatever the file says, so a stale or foreign file can cost time, not
correctness. A file that cannot be read is ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import NamedTuple

from asgidev import __version__

# Projects remembered at most; the oldest files go first (each is a few tens of KiB).
MAX_CACHED_PROJECTS = 64


def cache_path(app_dir: Path) -> Path:
    """The file for this project and interpreter, under ``$XDG_CACHE_HOME/asgidev`` (default ``~/.cache``)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = "\0".join([str(app_dir.resolve()), sys.executable, sys.version, __version__])
    return base / "asgidev" / f"warm-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json"


class Learned(NamedTuple):
    """What a run learned: the warm set (import order), what failed in spares, whether spares prepare."""

    modules: list[str]
    excluded: list[str]
    prepare: bool
    # How many of ``modules`` (a prefix) a worker had imported by the time it served: a start's own imports.
    at_start: int


NOTHING = Learned([], [], False, 0)


def load(path: Path) -> Learned:
    """What the last run learned (nothing if missing or unreadable)."""
    try:
        data = json.loads(path.read_text())
        modules, excluded, prepare, at_start = data["modules"], data["excluded"], data.get("prepare", False), data.get("at_start", 0)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return NOTHING
    if not all(isinstance(name, str) for name in [*modules, *excluded]) or not isinstance(at_start, int):
        return NOTHING
    return Learned(list(modules), list(excluded), prepare is True, at_start)


def save(path: Path, learned: Learned) -> None:
    """Write the set atomically (a reader never sees half a file); errors are ignored: it is only a hint."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps({**learned._asdict(), "excluded": sorted(learned.excluded)}))
        os.replace(temporary, path)
        _prune(path.parent)


def _prune(directory: Path) -> None:
    files = sorted(directory.glob("warm-*.json"), key=lambda file: file.stat().st_mtime)
    for stale in files[:-MAX_CACHED_PROJECTS]:
        with contextlib.suppress(OSError):
            stale.unlink()
