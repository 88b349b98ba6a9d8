"""Which event loop a process runs: ``--loop auto|asyncio|uvloop``, resolved once, used by every process.

``auto`` picks uvloop when it can be imported (as uvicorn does) and asyncio's
own loop otherwise. The supervisor, each worker, ``--no-reload`` and
``serve_in_thread`` (which owns its loop) run their main coroutine through
``run``; ``serve()`` runs on its caller's loop and cannot choose.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from asgidev.config import LoopChoice
from asgidev.errors import ConfigError

FAST_EXTRA_HINT = "pip install 'asgidev[fast]'"

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def loop_factory(choice: LoopChoice) -> LoopFactory:
    """The function that makes the loop ``choice`` names.

    Raises:
        ConfigError: ``choice`` is uvloop and uvloop cannot be imported.
    """
    if choice == "asyncio":
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "--loop uvloop: uvloop is not installed.", f"Install it ({FAST_EXTRA_HINT}) or use --loop auto or --loop asyncio."
            ) from None
        return asyncio.new_event_loop
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def run(main: Coroutine[Any, Any, T], choice: LoopChoice) -> T:
    """Run ``main`` to completion on a new loop of the chosen kind, as ``asyncio.run`` does.

    Raises:
        ConfigError: ``choice`` is uvloop and uvloop cannot be imported.
    """
    try:
        factory = loop_factory(choice)
    except BaseException:
        main.close()  # never awaited: say so quietly rather than with a RuntimeWarning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``'uvloop'`` or ``'asyncio'``: what the banner and the benchmarks call ``loop``."""
    return "uvloop" if type(loop).__module__.split(".")[0] == "uvloop" else "asyncio"


def describe_running_loop(choice: LoopChoice) -> str:
    """The banner's line about the loop this process runs."""
    try:
        name = loop_name(asyncio.get_running_loop())
    except RuntimeError:
        name = "uvloop" if loop_factory(choice) is not asyncio.new_event_loop else "asyncio"
    if name == "asyncio" and choice == "auto":
        return f"Event loop: asyncio (uvloop is not installed; {FAST_EXTRA_HINT} adds it)."
    return f"Event loop: {name}."
