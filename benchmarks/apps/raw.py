"""One raw ASGI app, three workloads chosen by path.

``/`` says "Hello, world!"; ``/echo`` returns the request body (the suite
POSTs 64 KiB); ``/stream`` streams 1 MiB in 64 KiB chunks without a
Content-Length (so HTTP/1.1 servers frame it chunked); ``/large`` streams
128 MiB for the slow-reader memory measurement. A path comparison costs the
same on every server, so one process per server covers every workload.
"""

from __future__ import annotations

from typing import Any

HELLO = b"Hello, world!"
CHUNK = b"x" * 65536
# 1 MiB: large enough that framing and flow control dominate, small enough for many requests per second.
STREAM_CHUNKS = 16
# 128 MiB: a server that ignores back-pressure visibly buffers it; one that honours it stays flat.
LARGE_CHUNKS = 2048

_TEXT_HEADERS = [(b"content-type", b"text/plain")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    path = scope["path"]
    if path == "/":
        await send({"type": "http.response.start", "status": 200, "headers": [*_TEXT_HEADERS, (b"content-length", b"13")]})
        await send({"type": "http.response.body", "body": HELLO})
    elif path == "/echo":
        await _echo(receive, send)
    elif path in ("/stream", "/large"):
        await _stream(send, STREAM_CHUNKS if path == "/stream" else LARGE_CHUNKS)
    else:
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})


async def _echo(receive: Any, send: Any) -> None:
    parts = []
    while True:
        message = await receive()
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(parts)
    headers = [(b"content-type", b"application/octet-stream"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _stream(send: Any, chunks: int) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
    for _ in range(chunks):
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _lifespan(receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
