"""Exceptions a framework answers itself without re-raising, made visible to the traceback page.

Litestar's catch-all answers every exception with its own bare 500 and never
re-raises, so nothing would reach the server. An ``after_exception`` hook
(Litestar's documented extension point, read on every exception) records the
exception in the request's scope; the traceback middleware then replaces that
bare 500 as it replaces FastAPI's. Litestar's own debug page (``debug=True``)
is HTML and stays.
"""

from __future__ import annotations

from typing import Any

from asgidev._types import Scope

SCOPE_KEY = "asgidev.handled_exception"


def observe(app: object) -> None:
    """Have ``app`` record the exceptions it answers itself, if it is an app that hides them (Litestar)."""
    hooks = getattr(app, "after_exception", None)
    if type(app).__module__.startswith("litestar") and isinstance(hooks, list) and _record not in hooks:
        hooks.append(_record)


async def _record(exc: Exception, scope: Any) -> None:
    scope[SCOPE_KEY] = exc


def handled_exception(scope: Scope) -> Exception | None:
    """The exception the framework answered for this request, if it recorded one."""
    exc = scope.get(SCOPE_KEY)
    return exc if isinstance(exc, Exception) else None
