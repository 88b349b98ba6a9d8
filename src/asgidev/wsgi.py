"""Serve a WSGI app (Flask, Bottle, Django's WSGIHandler) through a2wsgi, the optional ``asgidev[wsgi]`` extra.

a2wsgi runs the WSGI app in a thread pool and streams its body, so a
blocking app does not stall the server's event loop.
"""

from __future__ import annotations

from typing import Any, cast

from asgidev._types import ASGIApp
from asgidev.errors import AppImportError


def adapt_wsgi(wsgi_app: Any, spec: str) -> ASGIApp:
    """``wsgi_app`` as an ASGI app.

    Raises:
        AppImportError: a2wsgi is not installed.
    """
    try:
        from a2wsgi import WSGIMiddleware
    except ImportError:
        raise AppImportError(
            f"{spec!r} is a WSGI app (for example Flask), not an ASGI app; serving it needs the WSGI adapter.",
            "Install it with: pip install 'asgidev[wsgi]'.",
        ) from None
    return cast(ASGIApp, WSGIMiddleware(wsgi_app))
