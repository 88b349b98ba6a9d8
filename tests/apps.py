"""Small ASGI apps the tests serve."""

from __future__ import annotations

import asyncio

from asgidev._types import Receive, Scope, Send


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


async def loop_module_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with the module of the event loop serving it: 'uvloop' or 'asyncio'."""
    if scope["type"] != "http":
        return
    module = type(asyncio.get_running_loop()).__module__.split(".")[0]
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": module.encode()})


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Echo the request body, streaming it back as it arrives."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    while True:
        message = await receive()
        assert message["type"] == "http.request"
        await send({"type": "http.response.body", "body": message["body"], "more_body": True})
        if not message.get("more_body"):
            break
    await send({"type": "http.response.body", "body": b""})


async def scope_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with a repr of the interesting scope keys."""
    import json

    if scope["type"] != "http":
        return
    shown = {k: v for k, v in scope.items() if k not in ("headers", "state", "extensions")}
    shown["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
    for key in ("raw_path", "query_string"):
        shown[key] = shown[key].decode("latin-1")
    body = json.dumps(shown).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def sse(scope: Scope, receive: Receive, send: Send) -> None:
    """An endless event stream: one event every 10 ms until the client leaves."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
    n = 0
    while True:
        await send({"type": "http.response.body", "body": b"data: %d\n\n" % n, "more_body": True})
        n += 1
        await asyncio.sleep(0.01)


async def websocket_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """What Autobahn's fuzzing client expects of a server: every message echoed as it came."""
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})
