"""HTTP/1.1 behaviour of a real server over real sockets (httpx and raw sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from typing import Any

import httpx
import pytest

import asgidev
from tests import apps

pytestmark = pytest.mark.anyio


async def test_hello_with_default_headers() -> None:
    async with asgidev.serve(apps.hello) as server, httpx.AsyncClient() as client:
        response = await client.get(server.url + "/")
    assert response.status_code == 200
    assert response.text == "Hello, world!"
    assert response.headers["server"] == "asgidev"
    assert "date" in response.headers
    assert response.headers["content-length"] == "13"


async def test_no_server_header_and_extra_headers() -> None:
    async with asgidev.serve(apps.hello, server_header=False, headers=(("X-Dev", "yes"),)) as server, httpx.AsyncClient() as client:
        response = await client.get(server.url)
    assert "server" not in response.headers
    assert response.headers["x-dev"] == "yes"


async def test_scope_is_complete() -> None:
    async with asgidev.serve(apps.scope_echo, root_path="/mount") as server, httpx.AsyncClient() as client:
        response = await client.get(server.url + "/a%20b/c?x=1&y=%20", headers={"X-Custom": "v"})
    scope = response.json()
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/mount/a b/c"
    assert scope["raw_path"] == "/a%20b/c"
    assert scope["query_string"] == "x=1&y=%20"
    assert scope["root_path"] == "/mount"
    assert ["x-custom", "v"] in scope["headers"]
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ["127.0.0.1", server.port]


async def test_keep_alive_reuses_connection(raw_client: Any) -> None:
    async with asgidev.serve(apps.hello) as server:
        client = raw_client(server.host, server.port)
        for _ in range(3):
            await asyncio.to_thread(client.send, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            response = await asyncio.to_thread(client.read_response)
            assert response.startswith(b"HTTP/1.1 200 OK\r\n")
            assert response.endswith(b"Hello, world!")


async def test_pipelined_requests_answered_in_order(raw_client: Any) -> None:
    async with asgidev.serve(apps.scope_echo) as server:
        client = raw_client(server.host, server.port)
        await asyncio.to_thread(
            client.send,
            b"GET /1 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /2 HTTP/1.1\r\nHost: localhost\r\n\r\nGET /3 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        data = await asyncio.to_thread(client.read_until_close)
    paths = [json.loads(part.split(b"\r\n\r\n", 1)[1].split(b"HTTP/1.1")[0])["path"] for part in data.split(b"HTTP/1.1 200")[1:]]
    assert paths == ["/1", "/2", "/3"]


async def test_chunked_request_body_and_streamed_response(raw_client: Any) -> None:
    async with asgidev.serve(apps.echo) as server:
        client = raw_client(server.host, server.port)
        await asyncio.to_thread(
            client.send,
            b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        )
        data = await asyncio.to_thread(client.read_until_close)
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    # Dechunk.
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2 :]
    assert out == b"hello world"


async def test_large_post_echo_streams() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    async with asgidev.serve(apps.echo) as server, httpx.AsyncClient() as client:
        response = await client.post(server.url, content=payload)
    assert response.content == payload


async def test_head_has_headers_but_no_body(raw_client: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asgidev.access")
    async with asgidev.serve(apps.hello, access_log=True) as server:
        client = raw_client(server.host, server.port)
        await asyncio.to_thread(
            client.send, b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\nGET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        data = await asyncio.to_thread(client.read_until_close)
    first, _, rest = data.partition(b"\r\n\r\n")
    assert b"content-length: 13" in first
    assert rest.startswith(b"HTTP/1.1 200 OK")  # no body between the two responses
    # The access log counts body bytes sent: none for the HEAD.
    logged = [r.getMessage() for r in caplog.records if r.name == "asgidev.access"]
    assert [line.rsplit(" ", 2)[0] for line in logged] == ['"HEAD / HTTP/1.1" 200 0', '"GET / HTTP/1.1" 200 13']


async def test_expect_100_continue_sent_only_when_app_reads(raw_client: Any) -> None:
    async with asgidev.serve(apps.echo) as server:
        client = raw_client(server.host, server.port)
        await asyncio.to_thread(client.send, b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        interim = await asyncio.to_thread(client.sock.recv, 1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        await asyncio.to_thread(client.send, b"hello")
        rest = interim[len(b"HTTP/1.1 100 Continue\r\n\r\n") :]
        while b"hello" not in rest:
            rest += await asyncio.to_thread(client.sock.recv, 1024)
    async with asgidev.serve(apps.hello) as server:
        client = raw_client(server.host, server.port)
        await asyncio.to_thread(client.send, b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        data = await asyncio.to_thread(client.read_until_close)
    assert b"100 Continue" not in data
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert b"connection: close" in data  # body never read: the connection cannot be reused


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(b"GARBAGE\r\n\r\n", 400, id="garbage"),
        pytest.param(b"GET / HTTP/1.1\r\n\r\n", 400, id="http11-without-host"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello", 400, id="conflicting-cl"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, id="cl-and-te"
        ),
        pytest.param(b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: gzip\r\n\r\n", 501, id="unknown-te"),
        pytest.param(b"GET / HTTP/2.0\r\nHost: localhost\r\n\r\n", 505, id="http2-version"),
        pytest.param(b"GET /" + b"a" * 10000 + b" HTTP/1.1\r\nHost: localhost\r\n\r\n", 414, id="long-line"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\r\n" + b"X-Big: " + b"a" * 70000 + b"\r\n\r\n", 431, id="big-head"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\r\nBad Header: v\r\n\r\n", 400, id="bad-header-name"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400, id="hex-chunk-size"
        ),
    ],
)
async def test_bad_requests_get_4xx_and_close(raw_client: Any, request_bytes: bytes, status: int) -> None:
    called = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["type"] == "http":
            called.append(scope)
            while (await receive()).get("more_body"):
                pass
        await apps.hello(scope, receive, send)

    async with asgidev.serve(app) as server:
        client = raw_client(server.host, server.port)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await asyncio.to_thread(client.send, request_bytes)
        data = await asyncio.to_thread(client.read_until_close)
        assert data.startswith(b"HTTP/1.1 %d " % status), data[:100]
        assert b"connection: close" in data.lower()
        # The server keeps serving everyone else.
        async with httpx.AsyncClient() as http:
            assert (await http.get(server.url)).status_code == 200
    if status != 400 or b"0x5" not in request_bytes:
        assert all(s["path"] == "/" for s in called)


async def test_app_exception_gives_500_and_server_survives(caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/boom":
            raise ValueError("kaboom")
        await apps.hello(scope, receive, send)

    with pytest.raises(ValueError, match="kaboom"):
        async with asgidev.serve(app) as server, httpx.AsyncClient() as client:
            assert (await client.get(server.url + "/boom")).status_code == 500
            assert (await client.get(server.url + "/")).status_code == 200
    assert "kaboom" in caplog.text


class UnformattableError(Exception):
    """Python cannot format it: its ``__notes__`` raises (traceback reads them)."""

    @property
    def __notes__(self) -> list[str]:  # type: ignore[override]
        raise RuntimeError("notes explode")


async def test_an_exception_python_cannot_format_still_gets_its_500(caplog: pytest.LogCaptureFixture) -> None:
    # Logging its traceback raised inside logging's own error handler, and the client waited for a response forever.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/boom":
            raise UnformattableError("kaboom")
        await apps.hello(scope, receive, send)

    async with asgidev.serve(app, raise_app_exceptions=False) as server, httpx.AsyncClient(timeout=5) as client:
        assert (await client.get(server.url + "/boom")).status_code == 500
        assert (await client.get(server.url + "/")).status_code == 200
    assert "UnformattableError: kaboom (its traceback cannot be formatted: RuntimeError('notes explode'))" in caplog.text


@pytest.mark.parametrize(
    ("messages", "mistake"),
    [
        ([{"type": "http.response.body", "body": b"x"}], "before 'http.response.start'"),
        ([{"type": "http.response.start", "status": 200}, {"type": "http.response.start", "status": 200}], "twice"),
        ([{"type": "http.response.start", "status": "200"}], "status"),
        ([{"type": "http.response.start", "status": 200, "headers": [("a", "b")]}], "headers"),
        ([], None),
        ([{"type": "http.response.start", "status": 200}], None),
    ],
)
async def test_misbehaving_app_gets_500(messages: list[dict[str, Any]], mistake: str | None, caplog: pytest.LogCaptureFixture) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        for message in messages:
            await send(message)

    async with asgidev.serve(app, raise_app_exceptions=False) as server, httpx.AsyncClient() as client:
        response = await client.get(server.url)
    assert response.status_code == 500
    if mistake:
        assert mistake in caplog.text
    else:
        assert "without completing its response" in caplog.text


async def test_app_error_after_start_closes_connection() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("late failure")

    async with asgidev.serve(app, raise_app_exceptions=False) as server, httpx.AsyncClient() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(server.url)


async def test_disconnect_delivered_when_client_leaves() -> None:
    disconnected = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"start", "more_body": True})
        message = await receive()
        assert message["type"] == "http.request"
        message = await receive()
        assert message["type"] == "http.disconnect"
        disconnected.set()

    async with asgidev.serve(app) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await reader.readuntil(b"start")
        writer.close()
        await asyncio.wait_for(disconnected.wait(), 5)


async def test_sse_client_can_leave_early() -> None:
    async with (
        asgidev.serve(apps.sse, timeout_graceful_shutdown=1) as server,
        httpx.AsyncClient() as client,
        client.stream("GET", server.url) as response,
    ):
        seen = 0
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                seen += 1
            if seen == 3:
                break
    assert seen == 3


async def test_response_send_waits_for_slow_reader() -> None:
    """A client that does not read makes send() wait: the server buffers a bounded amount."""
    sent = 0
    chunk = b"x" * 65536

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        nonlocal sent
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while True:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            sent += len(chunk)

    async with asgidev.serve(app, timeout_graceful_shutdown=0.5) as server:
        sock = socket.create_connection((server.host, server.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        # Wait until the app is blocked: the amount sent stops growing.
        previous = -1
        while previous != sent:
            previous = sent
            await asyncio.sleep(0.2)
        sock.close()
    # Kernel buffers plus asyncio's write high-water mark: a few MiB at most, never unbounded.
    assert sent < 16 * 1024 * 1024


async def test_request_body_backpressure_bounded() -> None:
    """An app that does not read the body: the server stops reading from the client."""
    release = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await release.wait()
        await apps.hello(scope, receive, send)

    async with asgidev.serve(app, timeout_graceful_shutdown=0.5) as server:
        sock = socket.create_connection((server.host, server.port))
        sock.setblocking(False)
        sock.send(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000000\r\n\r\n")
        total = 0
        stalled = 0
        while stalled < 5:
            try:
                total += sock.send(b"x" * 65536)
                stalled = 0
            except BlockingIOError:
                stalled += 1
                await asyncio.sleep(0.05)
        release.set()
        sock.close()
    assert total < 32 * 1024 * 1024


async def test_http10_closes_after_response(raw_client: Any) -> None:
    async with asgidev.serve(apps.hello) as server:
        client = raw_client(server.host, server.port)
        await asyncio.to_thread(client.send, b"GET / HTTP/1.0\r\n\r\n")
        data = await asyncio.to_thread(client.read_until_close)
    assert data.startswith(b"HTTP/1.1 200 OK")
    assert data.endswith(b"Hello, world!")


async def test_limit_concurrency_answers_503() -> None:
    release = asyncio.Event()
    slow_started = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] == "/slow":
            slow_started.set()
            await release.wait()
        await apps.hello(scope, receive, send)

    async with asgidev.serve(app, limit_concurrency=1) as server, httpx.AsyncClient() as client:
        slow = asyncio.create_task(client.get(server.url + "/slow"))
        await asyncio.wait_for(slow_started.wait(), 5)
        busy = await client.get(server.url + "/")
        release.set()
        assert (await slow).status_code == 200
    assert busy.status_code == 503


async def test_idle_keep_alive_connection_closed_after_timeout() -> None:
    async with asgidev.serve(apps.hello, timeout_keep_alive=0.2) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        await reader.readuntil(b"Hello, world!")
        assert await asyncio.wait_for(reader.read(), 5) == b""  # server closed the idle connection
        writer.close()


async def test_slow_request_head_times_out() -> None:
    async with asgidev.serve(apps.hello, timeout_request_head=0.2) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        writer.write(b"GET / HTTP/1.1\r\nHo")
        response = await asyncio.wait_for(reader.read(), 5)
        assert response.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        writer.close()


async def test_keep_alive_after_a_body_that_filled_the_buffer() -> None:
    """A 64 KiB body pauses reading; the next request on the connection must still be read."""
    payload = b"y" * 65536
    async with asgidev.serve(apps.echo) as server, httpx.AsyncClient() as client:
        for _ in range(3):
            response = await client.post(server.url, content=payload)
            assert response.content == payload


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        pytest.param(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\nhello world", 413, id="declared-too-large"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n",
            413,
            id="chunked-too-large",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhelloworld", 200, id="at-the-limit"
        ),
    ],
)
async def test_limit_request_body(raw_client: Any, request_bytes: bytes, status: int) -> None:
    async with asgidev.serve(apps.echo, limit_request_body=10, raise_app_exceptions=False) as server:
        client = raw_client(server.host, server.port)
        await asyncio.to_thread(client.send, request_bytes)
        data = await asyncio.to_thread(client.read_until_close)
    assert data.startswith(b"HTTP/1.1 %d " % status), data[:200]


async def test_access_line_names_the_request_when_the_app_raises_or_the_guard_refuses(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asgidev.access")

    async def raises_first(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise RuntimeError("the app fails before it responds")

    async with asgidev.serve(raises_first, access_log=True, raise_app_exceptions=False) as server, httpx.AsyncClient() as client:
        assert (await client.get(server.url + "/broken?x=1")).status_code == 500
        assert (await client.get(server.url + "/elsewhere", headers={"Host": "evil.example"})).status_code == 400
    logged = [r.getMessage() for r in caplog.records if r.name == "asgidev.access"]
    assert [line.split(" ", 4)[:4] for line in logged] == [
        ['"GET', "/broken?x=1", 'HTTP/1.1"', "500"],
        ['"GET', "/elsewhere", 'HTTP/1.1"', "400"],
    ], logged


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_request_body_reaches_the_app_as_bytes(framing: str) -> None:
    """ASGI's "body" is a byte string: never the bytearray a parser hands over."""
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while True:
            message = await receive()
            seen.append(type(message["body"]).__name__)
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def chunks() -> Any:
        yield b"x" * 50
        yield b"y" * 50

    body: Any = b"x" * 100 if framing == "content-length" else chunks()
    async with asgidev.serve(app, lifespan="off") as server, httpx.AsyncClient() as client:
        response = await client.post(server.url, content=body)
    assert response.status_code == 204
    assert seen and set(seen) == {"bytes"}
