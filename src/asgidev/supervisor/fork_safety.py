"""Whether this process may fork: the one rule both forks (the early first worker, a spare's prepared child) obey."""

from __future__ import annotations

import os
import sys


def can_fork_safely() -> bool:
    """Forking is safe, and the child's SystemExit reaches the interpreter: no debugger, profiler or extra thread."""
    threading = sys.modules.get("threading")
    return (
        hasattr(os, "fork") and sys.gettrace() is None and sys.getprofile() is None and (threading is None or threading.active_count() == 1)
    )
