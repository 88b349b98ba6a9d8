"""ASGI apps asgidev serves itself: the welcome page and the broken-code page."""

from __future__ import annotations

from asgidev._types import ASGIApp, Receive, Scope, Send
from asgidev.pages import error_page, welcome_page


async def welcome_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Served when no APP is given: says how to point asgidev at an app."""
    if scope["type"] != "http":
        return
    body = welcome_page().encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/html; charset=utf-8"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def broken_code_app(title: str, message: str, traceback: str, hint: str = "") -> ASGIApp:
    """An app answering every request with a 500 that shows why the code did not load.

    Browsers (``Accept: text/html``) get an HTML page; other clients plain text.
    """
    page = error_page(title, message, traceback, hint).encode()
    text = f"{title}\n\n{message}\n\n{traceback}\n{hint}\n".encode()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            return  # no lifespan support: the server continues quietly
        if scope["type"] != "http":
            # A WebSocket while the code is broken: refused before the upgrade, which
            # the server answers 403 (ASGI spec, websocket.close before accept). A
            # client then reports a failed connection, instead of looping through
            # connect-and-close as it would after an accept and a 1011.
            await receive()
            await send({"type": "websocket.close", "code": 1011, "reason": title[:100]})
            return
        wants_html = any(name == b"accept" and b"text/html" in value for name, value in scope["headers"])
        body, kind = (page, b"text/html; charset=utf-8") if wants_html else (text, b"text/plain; charset=utf-8")
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app
