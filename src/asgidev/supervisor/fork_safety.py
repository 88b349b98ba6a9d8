"""Whether this process may fork: the one rule both forks (the early first worker, a spare's prepared child) obey."""

from __future__ import annotations

import os
import sys


def can_fork_safely() -> bool:
    """Forking is safe, and the child's SystemExit reaches the interpreter: no debugger, profiler or extra thread.

    Threads that Python does not know of count too (a native library's pool, started
    at import): where the system lists them (Linux), every thread of the process.
    """
    threading = sys.modules.get("threading")
    return (
        hasattr(os, "fork")
        and sys.gettrace() is None
        and sys.getprofile() is None
        and (threading is None or threading.active_count() == 1)
        and _os_threads() in (None, 1)
    )


def _os_threads() -> int | None:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None
