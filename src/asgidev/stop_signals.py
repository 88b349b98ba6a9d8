"""What a stop signal means, for every process that owns one (the CLI without reload, the supervisor).

Kept out of ``server/`` so the reload supervisor, which never imports the
server, shares the same rules.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable


def stop_signal_handler(on_first: Callable[[int], None], on_force: Callable[[int], None]) -> Callable[[int], None]:
    """A handler calling ``on_first`` for the first stop signal and ``on_force`` for a second Ctrl+C.

    Only a repeated SIGINT means "stop at once": a person pressed Ctrl+C again.
    A SIGTERM or SIGHUP sent to the whole process group (``timeout``, systemd,
    ``kill -TERM -PGID``, a closed terminal) can reach a process twice, once
    addressed to it and once to its group; that counts once.
    """
    received: list[int] = []

    def on_signal(signum: int) -> None:
        received.append(signum)
        if len(received) == 1:
            on_first(signum)
        elif signum == signal.SIGINT:
            on_force(signum)

    return on_signal


def has_controlling_terminal() -> bool:
    """Whether this process still has a terminal (False once it hung up: the window closed, ssh dropped)."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return False
    os.close(fd)
    return True


def install_supervisor_signals(
    loop: asyncio.AbstractEventLoop, on_first: Callable[[int], None], on_force: Callable[[int], None], on_reload: Callable[[], None]
) -> None:
    """SIGINT/SIGTERM stop (a second Ctrl+C at once); SIGHUP stops when the terminal went away, else reloads.

    A hang-up while we have a terminal is the terminal closing: stop, as
    runserver and uvicorn do. Without one (nohup, a service), SIGHUP is a
    deliberate "reload now".
    """
    had_terminal = has_controlling_terminal()
    on_stop_signal = stop_signal_handler(on_first, on_force)

    def on_hangup() -> None:
        if had_terminal and not has_controlling_terminal():
            on_stop_signal(signal.SIGHUP)
        else:
            on_reload()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_stop_signal, sig)
    loop.add_signal_handler(signal.SIGHUP, on_hangup)
