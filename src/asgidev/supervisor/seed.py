"""Seeds: a warmed spare's copy of itself, forked before it runs the app's set-up in advance.

A spare that runs the set-up in advance (prepared.py) can no longer serve a
change to what that set-up read, and it took the spare a fresh interpreter
plus ~1 s of imports to get warm. So just before the set-up, it forks a
**seed**: a copy as it is then, warm and with nothing of the project loaded.
The supervisor keeps the seed as the next spare: after a reload it asks the
seed (not a fresh interpreter) to warm the new modules, fork its own seed and
prepare, so a save every two seconds finds a prepared spare each time; and
when a prepared spare declines GO, the seed takes it and loads the app after
GO, as any warm spare does.

The seed is a direct child of the supervisor, as every worker is, so its
exit code, its kill and the end of its channel work as for the others: the
spare forks twice (the middle process exits at once), and the supervisor is
the orphaned seed's subreaper (Linux's ``PR_SET_CHILD_SUBREAPER``), so the
kernel makes it the seed's parent. Elsewhere there are no seeds, and every
spare is a fresh interpreter. Forking obeys fork_safety.py: a spare in which an
import started a thread forks no seed.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket

from asgidev.supervisor.control import ControlChannel, Kind
from asgidev.supervisor.fork_safety import can_fork_safely

NO_FORK_REASON = (
    "A module started a thread while warming, so spares cannot fork seeds: nothing is run in advance"
    " (each reload loads the app after the change, in a warm spare)"
)
# How long a spare waits for its seed's pid (a fork takes ~10 ms).
SEED_FORK_TIMEOUT_S = 5.0


def fork_seed(control: ControlChannel) -> ControlChannel | bool:
    """In a spare: fork a seed and send it to the supervisor (SEED).

    Returns, in the spare, whether a seed was made; in the seed, its own
    control channel: it goes on as a spare waiting for WARM or GO.
    """
    if not can_fork_safely():
        # Said to the supervisor, which logs it once: the set-up is then never run in advance.
        with contextlib.suppress(OSError):
            control.send(Kind.SEED, NO_FORK_REASON.encode())
        return False
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    read_end, write_end = os.pipe()
    middle = os.fork()
    if middle == 0:
        try:
            seed = os.fork()
            if seed != 0:
                os.write(write_end, str(seed).encode())
        except BaseException:
            os._exit(1)
        if seed != 0:
            os._exit(0)
        os.close(read_end)
        os.close(write_end)
        ours.close()
        # The spare's channel is the spare's: a copy held here would hide its end-of-file from the supervisor.
        control.close()
        return ControlChannel(theirs)
    os.close(write_end)
    theirs.close()
    # Bounded: a fork that hangs in the middle process (a lock held by a thread the check missed) must not hang the spare.
    if select.select([read_end], [], [], SEED_FORK_TIMEOUT_S)[0]:
        with os.fdopen(read_end, "rb") as pipe:
            seed_pid = pipe.read().decode()
    else:
        os.close(read_end)
        os.kill(middle, signal.SIGKILL)
        seed_pid = ""
    os.waitpid(middle, 0)  # the seed is an orphan now, so the supervisor's child
    sent = False
    if seed_pid:
        with contextlib.suppress(OSError):
            control.send(Kind.SEED, seed_pid.encode(), [ours.fileno()])
            sent = True
    ours.close()
    return sent
