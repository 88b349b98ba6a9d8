"""The supervisor as the parent of its workers' orphans, which is how a seed (seed.py) becomes its child.

A seed is forked twice over by a spare, so its first parent exits at once;
Linux then makes the nearest "subreaper" ancestor its parent. The supervisor
is one (``PR_SET_CHILD_SUBREAPER``), so the seed's exit code, its kill and its
reaping work as for any worker. The same makes it the parent of anything an
app leaves behind when its worker exits; those are collected here, so none
stays a zombie.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import Callable

from asgidev.supervisor.control import ControlChannel, Message
from asgidev.supervisor.spawn import ForkedProcess

_PR_SET_CHILD_SUBREAPER = 36
# How often exited orphans are looked for while any runs (no signal says when: see reap_orphans).
ORPHAN_POLL_S = 1.0


def become_subreaper() -> bool:
    """Make this process (the supervisor) the parent of its descendants' orphans; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        return bool(ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


class Orphans:
    """The supervisor's orphans: collected when a worker exits, and every ``ORPHAN_POLL_S`` while any runs."""

    def __init__(self, is_subreaper: bool, workers: Callable[[], set[int]]) -> None:
        self.is_subreaper = is_subreaper
        self.workers = workers
        self._poll: asyncio.TimerHandle | None = None

    def collect(self) -> None:
        if self.is_subreaper and reap_orphans(self.workers()) and self._poll is None:
            self._poll = asyncio.get_running_loop().call_later(ORPHAN_POLL_S, self._collect_again)

    def _collect_again(self) -> None:
        self._poll = None
        self.collect()


def reap_orphans(ours: set[int]) -> bool:
    """Collect exited processes that are not workers: an app's children orphaned when their worker exited.

    As their subreaper the supervisor is their parent now; uncollected they would
    stay zombies until it exits. Only children that are not workers are waited
    for, so a worker's exit code stays for its own reaping. Returns whether an orphan is
    still running (the caller looks again later: no signal tells it, as the
    event loop keeps SIGCHLD to itself).
    """
    for pid in _children() - ours:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    return bool(_children() - ours)


def _children() -> set[int]:
    """This process's live and zombie children (each thread's list: an orphan may be given to any of them)."""
    found: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.listdir("/proc/self/task"):
            with contextlib.suppress(OSError), open(f"/proc/self/task/{task}/children") as children:
                found.update(int(pid) for pid in children.read().split())
    return found


def adopt(message: Message) -> tuple[ForkedProcess, ControlChannel] | None:
    """In the supervisor: the seed a SEED message announces, as a process and its channel (None: no seed, see its text)."""
    if not message.fds:
        return None
    channel = ControlChannel(socket.socket(fileno=message.fds[0]))
    try:
        pid = int(message.payload)
    except ValueError:
        channel.close()
        return None
    return ForkedProcess(pid), channel
