"""The one place an exception escaping the app is reported, for HTTP and WebSocket alike."""

from __future__ import annotations

import logging
import traceback


def report_app_exception(logger: logging.Logger, exc: BaseException, what: str, exceptions: list[BaseException]) -> None:
    """Log ``exc`` with its traceback on ``logger`` and remember it in ``exceptions`` (the server's record of app errors).

    An exception Python cannot format (a ``__notes__`` property that raises, say)
    made logging itself raise, and the request then never got its 500: such
    an exception is logged by its type and message alone.
    """
    exceptions.append(exc)
    try:
        traceback.TracebackException.from_exception(exc)
    except Exception as format_error:
        logger.error("Exception in ASGI application (%s): %s (its traceback cannot be formatted: %r)", what, _describe(exc), format_error)
        return
    logger.error("Exception in ASGI application (%s)", what, exc_info=exc)


def _describe(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:
        return type(exc).__name__
