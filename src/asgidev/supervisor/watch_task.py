"""The supervisor's file-watching task: started before the first worker serves, restarted when there is more to watch.

Its failure never goes unnoticed: reloading would silently stop. The watching
itself (what a batch of changes means) is the supervisor's ``_watch``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

logger = logging.getLogger("asgidev.reload")

WatchFunction = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


class WatchTask:
    """Runs ``watch(watching)``, which sets ``watching`` once its OS watches are in place."""

    def __init__(self, watch: WatchFunction, is_stopping: Callable[[], bool]) -> None:
        self._watch = watch
        self._is_stopping = is_stopping
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start watching; returns once no edit can be missed, or once watching failed (said: serving goes on)."""
        watching = asyncio.Event()
        self._task = task = asyncio.create_task(self._watch(watching))
        ready = asyncio.create_task(watching.wait())
        await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if task.done() and not task.cancelled() and task.exception() is not None:
            # Serving matters more than reloading: say why, and serve on.
            logger.error("Cannot watch files for changes (%s); serving without reloading.", task.exception())
        else:
            task.add_done_callback(self._on_failed)

    def restart(self) -> bool:
        """Watch afresh (the roots changed); False when watching has already ended (failed, or stopping)."""
        task = self._task
        if task is None or task.done() or self._is_stopping():
            return False
        task.remove_done_callback(self._on_failed)
        task.cancel()
        self._task = asyncio.create_task(self._watch(asyncio.Event()))
        self._task.add_done_callback(self._on_failed)
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def _on_failed(self, task: asyncio.Task[None]) -> None:
        """File watching ended mid-session: reloading has stopped, which must not go unnoticed."""
        if task.cancelled() or self._is_stopping():
            return
        logger.error(
            "File watching stopped (%s): code changes no longer reload the server. Restart asgidev to reload again.",
            task.exception() or "the watcher ended",
        )
