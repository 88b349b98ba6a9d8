"""A small app whose one dependency takes 2 s to import (see heavy_dependency.py).

The reload measurement copies this file and rewrites TOKEN on each edit.
"""

from benchmarks.reload_apps import heavy_dependency

TOKEN = b"token-000"


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    body = TOKEN + b" " + heavy_dependency.NAME
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
