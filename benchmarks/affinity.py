"""CPU pinning: servers on one CPU, load generators on another, when there are two or more.

Keeps the client from stealing the server's CPU (and the other way round), so
one server's result does not depend on how hungry the client was.
"""

from __future__ import annotations

import contextlib
import os
from typing import Literal

Role = Literal["server", "client"]


def cpu_sets() -> dict[Role, set[int]] | None:
    """The CPU set for each role, or None when there are fewer than two CPUs to split."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None
    return {"server": {cpus[0]}, "client": set(cpus[1:2])}


_SETS = cpu_sets()


def pin(pid: int, role: Role) -> None:
    """Pin ``pid`` (0 for this process) to its role's CPU; threads and children it starts later inherit it."""
    if _SETS is not None:
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(pid, _SETS[role])


def pin_server_in_child() -> None:
    """``preexec_fn`` for server processes: pinned before exec, so every process the server starts
    (a reloader's workers, asgidev's early worker) inherits the server CPU from its first instruction."""
    pin(0, "server")


def describe() -> str:
    if _SETS is None:
        return "not pinned (fewer than two CPUs)"
    return f"server on CPU {sorted(_SETS['server'])}, client on CPU {sorted(_SETS['client'])}"
