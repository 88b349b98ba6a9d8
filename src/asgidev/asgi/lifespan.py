"""The ASGI lifespan protocol: startup before serving, shutdown after.

``auto`` treats an app that rejects the lifespan scope (Django does, by
raising) as "unsupported": one debug line, no error (ASGI spec, "Lifespan").
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from asgidev._types import ASGIApp, Message
from asgidev.asgi.scope import ASGI_VERSION
from asgidev.config import LifespanMode
from asgidev.errors import LifespanStartupError

logger = logging.getLogger(__name__)


class Lifespan:
    """Runs the app's lifespan task; ``state`` is shared into every request scope."""

    def __init__(self, app: ASGIApp, mode: LifespanMode) -> None:
        self.app = app
        self.mode = mode
        self.state: dict[str, Any] = {}
        self.is_supported = mode != "off"
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.app_exception: BaseException | None = None
        # An app that never called receive() does not speak lifespan (Django
        # raises at once); one that did and then raised has a failing startup.
        self._has_received = False

    async def startup(self) -> None:
        """Send ``lifespan.startup`` and wait for the app's answer.

        Raises:
            LifespanStartupError: the app reported failure, or raised with ``mode="on"``.
        """
        if self.mode == "off":
            return
        scope = {"type": "lifespan", "asgi": ASGI_VERSION, "state": self.state}
        self._task = asyncio.create_task(self._run(scope))
        await self._to_app.put({"type": "lifespan.startup"})
        message = await self._wait_answer()
        if message is None:
            return
        if message["type"] == "lifespan.startup.failed":
            reason = str(message.get("message", "")).strip() or "no message given"
            if "\n" not in reason:
                raise LifespanStartupError(f"Lifespan startup failed: {reason}")
            # A whole traceback (Litestar sends one): its last exception line says what failed; the rest goes below.
            raise LifespanStartupError(f"Lifespan startup failed: {_last_exception_line(reason)}", details=reason)
        logger.info("Application startup complete.")

    async def shutdown(self) -> None:
        """Send ``lifespan.shutdown`` and wait for the app's answer (errors are logged)."""
        if not self.is_supported or self._task is None:
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        getter = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            message = getter.result()
            if message["type"] == "lifespan.shutdown.failed":
                logger.error("Lifespan shutdown failed: %s", message.get("message", "") or "no message given")
        else:
            getter.cancel()
            exc = None if self._task.cancelled() else self._task.exception()
            if exc is not None:
                # The server is stopping anyway: say what went wrong, in the user's frames, and carry on.
                from asgidev.importer import format_user_traceback

                self.app_exception = exc
                logger.error("Lifespan shutdown failed (%s: %s).\n%s", type(exc).__name__, exc, format_user_traceback(exc).rstrip())
        if not self._task.done():
            self._task.cancel()

    async def _wait_answer(self) -> Message | None:
        """The app's next message, or None when the app task ended instead."""
        assert self._task is not None
        getter = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        getter.cancel()
        exc = self._task.exception() if not self._task.cancelled() else None
        if exc is not None:
            self.app_exception = exc
        if not self.is_supported:
            return None
        # The app returned or raised without answering.
        self.is_supported = False
        if self.mode == "on" or (exc is not None and self._has_received):
            detail = f"{type(exc).__name__}: {exc}" if exc else "the app returned without answering"
            raise LifespanStartupError(
                f"Lifespan startup failed ({detail}).", "Fix the app's lifespan handler, or run with --lifespan off."
            ) from exc
        logger.debug("The app does not support the lifespan protocol (%r); continuing without it.", exc)
        return None

    async def _run(self, scope: dict[str, Any]) -> None:
        await self.app(scope, self._receive, self._send)

    async def _receive(self) -> Message:
        self._has_received = True
        return await self._to_app.get()

    async def _send(self, message: Message) -> None:
        await self._from_app.put(message)


def _last_exception_line(traceback_text: str) -> str:
    """``RuntimeError: no database`` out of a formatted traceback (exception groups' ``|`` margins included)."""
    for line in reversed(traceback_text.splitlines()):
        line = line.strip(" |+-")
        if line and not line.startswith("File ") and re.match(r"^[\w.]+(: |$)", line):
            return line
    return traceback_text.splitlines()[-1]
