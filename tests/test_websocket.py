"""WebSockets over a real server, driven by an independent client library (``websockets``)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

import asgidev
from asgidev._types import Message, Receive, Scope, Send
from asgidev.asgi.websocket import MAX_QUEUED_BYTES
from asgidev.server.websocket import MAX_UNPARSED_BYTES, WebSocketConnection
from tests.waiting import wait_until_async

pytestmark = pytest.mark.anyio

REPO_ROOT = Path(__file__).resolve().parent.parent
# How long a test waits for something the server should do promptly.
DEADLINE_S = 5.0


def handshake_headers(ws: ClientConnection) -> Headers:
    """The headers of the server's 101 (set once the handshake is done, as it is inside ``connect``)."""
    assert ws.response is not None
    return ws.response.headers


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "websocket":
        return
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", **{k: v for k, v in message.items() if k in ("text", "bytes")}})


def ws_connections(server: asgidev.RunningServer) -> list[WebSocketConnection]:
    assert server.server.shared is not None
    return [c for c in server.server.shared.connections if isinstance(c, WebSocketConnection)]


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_echo_text_binary_and_fragmented(compression: str | None) -> None:
    async with asgidev.serve(echo) as server, connect(server.ws_url, compression=compression) as ws:
        assert ("permessage-deflate" in handshake_headers(ws).get("sec-websocket-extensions", "")) == (compression is not None)
        await ws.send("héllo")
        assert await ws.recv() == "héllo"
        await ws.send(b"\x00\xff" * 50_000)
        assert await ws.recv() == b"\x00\xff" * 50_000
        await ws.send(["frag", "mented", " text"])  # an iterable is sent as fragments
        assert await ws.recv() == "fragmented text"
        await ws.send([b"a" * 70_000, b"b"])
        assert await ws.recv() == b"a" * 70_000 + b"b"


async def test_no_deflate_when_disabled() -> None:
    async with asgidev.serve(echo, ws_per_message_deflate=False) as server, connect(server.ws_url) as ws:
        assert "sec-websocket-extensions" not in handshake_headers(ws)
        await ws.send("x")
        assert await ws.recv() == "x"


async def test_scope_is_complete() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await receive()
            scope["state"]["answer"] = 42
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        await send({"type": "websocket.accept", "subprotocol": "chat.v2", "headers": [(b"x-extra", b"yes")]})
        shown = {k: v for k, v in scope.items() if k not in ("headers", "raw_path", "query_string")}
        shown["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
        shown["raw_path"] = scope["raw_path"].decode()
        shown["query_string"] = scope["query_string"].decode()
        await send({"type": "websocket.send", "text": json.dumps(shown)})
        await receive()

    async with (
        asgidev.serve(app, root_path="/mount") as server,
        connect(
            server.ws_url + "/a%20b/c?x=1",
            subprotocols=[Subprotocol("chat.v1"), Subprotocol("chat.v2")],
            additional_headers={"X-Custom": "v"},
        ) as ws,
    ):
        scope = json.loads(await ws.recv())
        assert ws.subprotocol == "chat.v2"
        assert handshake_headers(ws)["x-extra"] == "yes"
        assert handshake_headers(ws)["server"] == "asgidev"
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/mount/a b/c"
    assert scope["raw_path"] == "/a%20b/c"
    assert scope["query_string"] == "x=1"
    assert scope["root_path"] == "/mount"
    assert scope["subprotocols"] == ["chat.v1", "chat.v2"]
    assert ["x-custom", "v"] in scope["headers"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ["127.0.0.1", server.port]
    assert scope["state"] == {"answer": 42}
    assert "websocket.http.response" in scope["extensions"]
    assert "method" not in scope


async def test_close_before_accept_is_403(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.close"})

    caplog.set_level(logging.INFO, logger="asgidev.access")
    async with asgidev.serve(app) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.ws_url + "/denied"):
                pass
    assert info.value.response.status_code == 403
    assert any('"WebSocket /denied" 403 denied' in r.getMessage() for r in caplog.records)


async def test_denial_response_extension() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.http.response.start", "status": 401, "headers": [(b"www-authenticate", b"Token")]})
            await send({"type": "websocket.http.response.body", "body": b"log in ", "more_body": True})
            await send({"type": "websocket.http.response.body", "body": b"first"})

    async with asgidev.serve(app) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.ws_url):
                pass
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Token"
    assert response.body == b"log in first"


async def test_app_close_with_code_and_reason() -> None:
    disconnect: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": 4321, "reason": "bye now"})
            disconnect.set_result(await receive())

    async with asgidev.serve(app) as server, connect(server.ws_url) as ws:
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4321
        assert ws.close_reason == "bye now"
        message = await asyncio.wait_for(disconnect, DEADLINE_S)
    assert message["type"] == "websocket.disconnect"
    assert message["code"] == 4321


async def test_client_close_code_reaches_app(caplog: pytest.LogCaptureFixture) -> None:
    received: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            received.set_result(await receive())

    caplog.set_level(logging.INFO, logger="asgidev.access")
    async with asgidev.serve(app) as server:
        async with connect(server.ws_url + "/chat?room=1") as ws:
            await ws.close(4001, "leaving")
        message = await asyncio.wait_for(received, DEADLINE_S)
        await wait_until_async(lambda: not ws_connections(server), DEADLINE_S, what="the connection to close")
    assert message == {"type": "websocket.disconnect", "code": 4001, "reason": "leaving"}
    lines = [r.getMessage() for r in caplog.records if r.name == "asgidev.access"]
    assert '"WebSocket /chat?room=1" 101 accepted' in lines
    assert any(line.startswith('"WebSocket /chat?room=1" closed 4001 by client after ') for line in lines)


async def test_message_too_big_closes_1009() -> None:
    async with asgidev.serve(echo, ws_max_size=1024) as server, connect(server.ws_url, compression=None) as ws:
        await ws.send(b"x" * 1024)
        assert await ws.recv() == b"x" * 1024
        await ws.send(b"x" * 1025)
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1009


async def test_compressed_message_too_big_closes_1009() -> None:
    # 8 MiB of zeros deflate to a few KiB: the limit applies to the inflated size.
    async with asgidev.serve(echo, ws_max_size=64 * 1024) as server, connect(server.ws_url, max_size=None) as ws:
        await ws.send(b"\x00" * (8 * 1024 * 1024))
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1009


async def test_exception_before_accept_is_500() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            raise ValueError("boom")

    async with asgidev.serve(app, raise_app_exceptions=False) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.ws_url):
                pass
        assert info.value.response.status_code == 500
    assert [type(e) for e in server.app_exceptions] == [ValueError]


async def test_exception_after_accept_closes_1011_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await receive()
            raise ValueError("kaboom")

    async with asgidev.serve(app, raise_app_exceptions=False) as server, connect(server.ws_url) as ws:
        await ws.send("trigger")
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1011
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert errors and "kaboom" in str(errors[0].exc_info[1])  # type: ignore[index]


async def test_app_returning_without_close_closes_1000() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": "only this"})

    async with asgidev.serve(app) as server, connect(server.ws_url) as ws:
        assert await ws.recv() == "only this"
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1000


async def test_invalid_app_message_raises_and_closes() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.send", "text": "before accept"})

    async with asgidev.serve(app, raise_app_exceptions=False) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(server.ws_url):
                pass
        assert info.value.response.status_code == 500
    assert "before 'websocket.accept'" in str(server.app_exceptions[0])


async def test_shutdown_closes_with_1012() -> None:
    disconnect: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            disconnect.set_result(await receive())

    async with asgidev.serve(app, timeout_graceful_shutdown=2.0) as server, connect(server.ws_url) as ws:
        started = time.monotonic()
        shutting_down = asyncio.create_task(server.server.shutdown())
        with pytest.raises(ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 1012
        await shutting_down
        # The client echoed the close and the app returned: no need to wait out the grace period.
        assert time.monotonic() - started < 1.5
    assert (await disconnect)["code"] == 1012


async def test_http_and_websocket_on_one_server() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"plain"})
        else:
            await echo(scope, receive, send)

    async with asgidev.serve(app) as server, httpx.AsyncClient() as client:
        assert (await client.get(server.url)).text == "plain"
        async with connect(server.ws_url) as ws:
            await ws.send("ws")
            assert await ws.recv() == "ws"
        assert (await client.get(server.url)).text == "plain"


async def test_slow_app_bounds_memory_and_loses_nothing() -> None:
    """A client sending faster than the app receives waits in TCP flow control, not in server memory."""
    may_read = asyncio.Event()
    received: list[bytes] = []
    message = b"m" * 16 * 1024
    count = 2000  # 32 MiB: far more than the server buffers plus the kernel's socket buffers

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        await may_read.wait()
        while len(received) < count:
            event = await receive()
            received.append(event["bytes"])
        await send({"type": "websocket.send", "text": "done"})
        await receive()

    async with asgidev.serve(app) as server, connect(server.ws_url, compression=None) as ws:

        async def flood() -> None:
            for _ in range(count):
                await ws.send(message)

        sending = asyncio.create_task(flood())
        await wait_until_async(
            lambda: bool(ws_connections(server)) and ws_connections(server)[0]._is_reading_paused, DEADLINE_S, what="reading to pause"
        )
        conn = ws_connections(server)[0]
        buffered = conn.cycle._queued_bytes + conn.protocol.unparsed_bytes
        assert buffered <= MAX_QUEUED_BYTES + MAX_UNPARSED_BYTES + 2 * len(message) + 256 * 1024
        assert not sending.done()
        may_read.set()
        await sending
        assert await asyncio.wait_for(ws.recv(), DEADLINE_S) == "done"
    assert len(received) == count and all(m == message for m in received)


async def test_client_not_reading_makes_app_send_wait() -> None:
    progress: list[int] = []
    stopped: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        try:
            for i in range(10_000):  # 2.5 GiB if nothing pushed back
                await send({"type": "websocket.send", "bytes": b"z" * 256 * 1024})
                progress.append(i)
        except OSError as exc:
            stopped.set_result(exc)

    async with asgidev.serve(app) as server:
        async with connect(server.ws_url, compression=None, max_queue=1, ping_interval=None) as ws:
            await wait_until_async(
                lambda: bool(ws_connections(server)) and ws_connections(server)[0].write_flow.is_paused, DEADLINE_S, what="writes to pause"
            )
            conn = ws_connections(server)[0]
            sent = len(progress)
            await asyncio.sleep(0.05)
            assert len(progress) <= sent + 1  # the app is parked in send()
            assert conn.transport.get_write_buffer_size() < 8 * 1024 * 1024
            ws.transport.abort()
        assert isinstance(await asyncio.wait_for(stopped, DEADLINE_S), OSError)


def test_channels_consumer_through_cli() -> None:
    """A Django Channels echo consumer behind ProtocolTypeRouter, served by the real CLI in its own process."""
    from websockets.sync.client import connect as sync_connect

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "asgidev", "tests.ws_channels_app:application", "--no-reload", "--port", "0"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        url = None
        for line in process.stdout:
            output.append(line)
            if "Starting ASGI server at http://" in line:
                url = line.split("Starting ASGI server at ", 1)[1].strip().rstrip("/")
                break
        assert url is not None, "".join(output)
        with sync_connect(url.replace("http://", "ws://") + "/ws/echo/", open_timeout=DEADLINE_S) as ws:
            ws.send("hello channels")
            assert ws.recv(timeout=DEADLINE_S) == "echo: hello channels"
            ws.send(b"\x01\x02")
            assert ws.recv(timeout=DEADLINE_S) == b"\x01\x02"
        with pytest.raises(InvalidStatus) as info, sync_connect(url.replace("http://", "ws://") + "/nowhere/", open_timeout=DEADLINE_S):
            pass
        assert info.value.response.status_code == 500  # URLRouter raises for an unknown path
    finally:
        process.terminate()
        try:
            process.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
