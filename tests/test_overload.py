"""Slow, idle, disappearing and over-numerous clients: the server stays bounded and keeps answering others.

(``--limit-concurrency`` answering 503 is covered in tests/test_http.py.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import asgidev
from asgidev._types import Receive, Scope, Send
from asgidev.asgi.http import ClientDisconnectedError
from tests import apps
from tests.waiting import wait_until

pytestmark = pytest.mark.anyio

# A deadline for anything that should happen "promptly" while a hostile client is connected.
PROMPT_S = 1.0
HELLO_REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


async def fetch(host: str, port: int, request: bytes = HELLO_REQUEST, within_s: float = 5.0) -> bytes:
    """One request on a fresh connection; the whole reply up to the server's close."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        async with asyncio.timeout(within_s):
            return await reader.read()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def assert_served_promptly(host: str, port: int) -> None:
    started = time.monotonic()
    response = await fetch(host, port, within_s=PROMPT_S)
    assert response.startswith(b"HTTP/1.1 200 "), response[:100]
    assert time.monotonic() - started < PROMPT_S


@contextlib.asynccontextmanager
async def open_raw(host: str, port: int) -> Any:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        yield reader, writer
    finally:
        writer.transport.abort()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


# -- slowloris ------------------------------------------------------------------------------


async def test_trickled_request_head_gets_408_within_the_head_timeout() -> None:
    called = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            called.append(scope["path"])
        await apps.hello(scope, receive, send)

    async with asgidev.serve(app, timeout_request_head=0.5) as server, open_raw(server.host, server.port) as (reader, writer):
        started = time.monotonic()

        async def trickle() -> None:
            # One byte every 50 ms: steady traffic, but the head would take minutes.
            writer.write(b"GET /slowloris HTTP/1.1\r\nHost: localhost\r\nX-Padding: ")
            for _ in range(200):
                await asyncio.sleep(0.05)
                if writer.is_closing():
                    return
                writer.write(b"a")

        trickler = asyncio.create_task(trickle())
        try:
            await assert_served_promptly(server.host, server.port)  # while the trickle goes on
            async with asyncio.timeout(5):
                response = await reader.read()
            elapsed = time.monotonic() - started
        finally:
            trickler.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await trickler
    assert response.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    # The head deadline runs from the first byte; a byte now and then does not extend it.
    assert 0.4 < elapsed < 0.5 + PROMPT_S
    assert called == ["/"]


async def test_stalled_request_body_is_closed_and_the_app_sees_disconnect(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asgidev")
    received: list[str] = []
    disconnected = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/upload":
            await apps.hello(scope, receive, send)
            return
        while True:
            message = await receive()
            received.append(message["type"])
            if message["type"] == "http.disconnect":
                disconnected.set()
                return

    async with asgidev.serve(app, timeout_request_body=0.5) as server, open_raw(server.host, server.port) as (reader, writer):
        writer.write(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100)
        started = time.monotonic()
        for _ in range(3):  # a few more bytes, then nothing
            await asyncio.sleep(0.1)
            writer.write(b"y" * 10)
        await assert_served_promptly(server.host, server.port)
        async with asyncio.timeout(5):
            response = await reader.read()
            await disconnected.wait()
        elapsed = time.monotonic() - started
    assert response.startswith(b"HTTP/1.1 408 ")
    assert received[-1] == "http.disconnect" and "http.request" in received
    assert 0.5 < elapsed < 0.3 + 0.5 + PROMPT_S  # counted from the last byte, not the first
    assert "stalled" in caplog.text


# How long the app below keeps the client waiting: deliberately longer than the
# 0.3 s body timeout, to show the timer does not run while the server holds things up.
APP_BUSY_S = 0.8

# The body timeout is meant for clients that stop sending. These two pin cases
# where the client did nothing wrong and the server is the one waiting.


async def test_busy_app_does_not_time_out_a_body_the_client_already_sent() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(APP_BUSY_S)  # e.g. waiting on a lock or a database before reading the upload
        await apps.echo(scope, receive, send)

    body = b"z" * 300_000  # more than MAX_BUFFERED_BODY_BYTES, so the server pauses reading
    async with asgidev.serve(app, timeout_request_body=0.3) as server:
        request = b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body
        try:
            response = await fetch(server.host, server.port, request)
        except ConnectionResetError:
            response = b"<reset>"
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"0\r\n\r\n")  # the echo is chunked: complete, not cut off
    assert response.count(b"z") == len(body)


async def test_client_waiting_for_100_continue_is_not_timed_out() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await asyncio.sleep(APP_BUSY_S)  # checks credentials before asking for the body
        await apps.echo(scope, receive, send)

    async with asgidev.serve(app, timeout_request_body=0.3) as server, open_raw(server.host, server.port) as (reader, writer):
        writer.write(b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n")
        async with asyncio.timeout(5):
            interim = await reader.readuntil(b"\r\n\r\n")
            assert interim.startswith(b"HTTP/1.1 100 Continue"), interim
            writer.write(b"hello")
            response = await reader.read()
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n")  # the chunked echo of the body


# -- many idle connections -------------------------------------------------------------------

IDLE_CONNECTIONS = 1000


@pytest.fixture
def raised_nofile_limit() -> Iterator[int]:
    """Raise this process's open-file soft limit to the hard limit for one test, then restore it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    # Server and clients share this process: two descriptors per connection, plus headroom.
    if wanted < 2500:
        pytest.skip(f"RLIMIT_NOFILE hard limit is {hard}; {IDLE_CONNECTIONS} connections need at least 2500 descriptors")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield wanted
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_a_thousand_idle_keep_alive_connections(raised_nofile_limit: int) -> None:
    async with asgidev.serve(apps.hello, timeout_keep_alive=60, timeout_graceful_shutdown=1) as server:
        streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

        async def one_request() -> None:
            reader, writer = await asyncio.open_connection(server.host, server.port)
            streams.append((reader, writer))
            writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            await reader.readuntil(b"Hello, world!")

        try:
            started = time.monotonic()
            async with asyncio.timeout(15):
                for _ in range(IDLE_CONNECTIONS // 100):  # batches: no thundering herd on the backlog
                    await asyncio.gather(*(one_request() for _ in range(100)))
            assert server.server.shared is not None
            assert len(server.server.shared.connections) >= IDLE_CONNECTIONS  # all still open, idle
            await assert_served_promptly(server.host, server.port)
            # And a request on one of the old idle connections still works.
            reader, writer = streams[0]
            writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            async with asyncio.timeout(PROMPT_S):
                await reader.readuntil(b"Hello, world!")
            assert time.monotonic() - started < 15
        finally:
            for _, writer in streams:
                writer.transport.abort()
            for _, writer in streams:
                with contextlib.suppress(OSError):
                    await writer.wait_closed()


# -- out of file descriptors ---------------------------------------------------------------

SERVER_NOFILE = 64
HELLO_APP_SOURCE = """
async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"Hello, world!"})
"""
URL_LINE = re.compile(r"Starting ASGI server at http://127\.0\.0\.1:(\d+)")


def wait_for_output(log: Path, pattern: re.Pattern[str], proc: subprocess.Popen[bytes], timeout: float = 15.0) -> re.Match[str]:
    """Wait until the server's output matches ``pattern`` (it is written to a file as it goes)."""

    def output_match() -> re.Match[str] | None:
        text = log.read_text(errors="replace")
        if (match := pattern.search(text)) is None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{text}")
        return match

    return wait_until(output_match, timeout, what=repr(pattern.pattern), detail=lambda: log.read_text(errors="replace"))


def wait_until_refused_or_closed(port: int, timeout: float = 15.0) -> None:
    """Until a new connection's request gets no answer (closed unanswered): the server is out of descriptors."""

    def is_refused_or_closed() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(HELLO_REQUEST)
                return not sock.recv(65536)
        except OSError:
            return True

    wait_until(is_refused_or_closed, timeout, interval=0.05, what="the server to stop answering with its descriptors exhausted")


def answer(port: int) -> bytes:
    """The whole response to one request on a new connection (the server closes it)."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        sock.sendall(HELLO_REQUEST)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    return response


def limit_descriptors() -> None:  # runs in the child, between fork and exec
    resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_out_of_file_descriptors_then_recovers(tmp_path: Path, loop: str) -> None:
    (tmp_path / "app.py").write_text(HELLO_APP_SOURCE)
    log = tmp_path / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "asgidev", "app:app", "--no-reload", "--port", "0", "--loop", loop],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=limit_descriptors,
        )
    clients: list[socket.socket] = []
    try:
        port = int(wait_for_output(log, URL_LINE, proc).group(1))
        for _ in range(100):  # the kernel completes these handshakes; the server runs out accepting them
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        if loop == "asyncio":
            wait_for_output(log, re.compile(r"out of system resource|Too many open files"), proc)
        else:
            # libuv closes connections it has no descriptor for at once (its "EMFILE trick") and reports
            # nothing: wait until the kernel's queue has been drained that way.
            wait_until_refused_or_closed(port)
        assert proc.poll() is None  # alive
        for sock in clients:
            sock.close()
        clients.clear()
        # asyncio retries accept() about a second after EMFILE; the closed clients free descriptors.
        wait_until(
            lambda: answer(port).startswith(b"HTTP/1.1 200 "),
            15,
            interval=0.1,
            retry_on=(OSError,),
            what="a successful request after the clients left",
            detail=lambda: log.read_text(errors="replace"),
        )
        assert proc.poll() is None
    finally:
        for sock in clients:
            sock.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- a client leaving mid-upload ------------------------------------------------------------


async def test_disconnect_mid_upload_reaches_the_app() -> None:
    seen = 0
    last: list[str] = []
    done = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal seen
        if scope["type"] != "http":
            return
        if scope["path"] != "/upload":
            await apps.hello(scope, receive, send)
            return
        try:
            while True:
                message = await receive()
                last.append(message["type"])
                if message["type"] == "http.disconnect":
                    return
                seen += len(message["body"])
        finally:
            done.set()

    size = 8 * 1024 * 1024
    async with asgidev.serve(app) as server:
        async with open_raw(server.host, server.port) as (_, writer):
            writer.write(b"POST /upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % size)
            for _ in range(16):  # half the body
                writer.write(b"u" * (size // 32))
                await writer.drain()
        # open_raw aborted the connection here
        async with asyncio.timeout(5):
            await done.wait()
        await assert_served_promptly(server.host, server.port)
    assert last[-1] == "http.disconnect"
    assert 0 < seen <= size // 2


# -- slow readers ---------------------------------------------------------------------------

WRITE_TIMEOUT_S = 0.5
MIB = 1024 * 1024


def never_reading_client(port: int, request: bytes = b"GET /download HTTP/1.1\r\nHost: localhost\r\n\r\n") -> socket.socket:
    """A client with a small receive buffer that sends ``request`` (asks for /download) and then reads nothing."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(request)
    return sock


@contextlib.contextmanager
def log_event(text: str) -> Iterator[asyncio.Event]:
    """An event set when asgidev logs a line containing ``text`` (in-process servers log on the test's loop)."""
    seen = asyncio.Event()

    class Handler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if text in record.getMessage():
                seen.set()

    handler = Handler()
    logger = logging.getLogger("asgidev")
    logger.addHandler(handler)
    try:
        yield seen
    finally:
        logger.removeHandler(handler)


async def test_client_that_never_reads_a_stream_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asgidev")
    disconnected = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/download":
            await apps.hello(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
        try:
            while True:  # an endless download, as a log tail or a video would be
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
        except ClientDisconnectedError:
            disconnected.set()

    async with asgidev.serve(app, timeout_write=WRITE_TIMEOUT_S) as server:
        with never_reading_client(server.port):
            async with asyncio.timeout(WRITE_TIMEOUT_S * 2 + PROMPT_S):
                await disconnected.wait()  # the app's send() raised: the connection and its buffer are gone
            await assert_served_promptly(server.host, server.port)
    assert "slow reader" in caplog.text


async def test_unread_complete_response_does_not_pin_its_connection(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asgidev")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/octet-stream")]})
            await send({"type": "http.response.body", "body": b"x" * (16 * MIB)})  # done: the app has returned

    async with asgidev.serve(app, timeout_write=WRITE_TIMEOUT_S, timeout_keep_alive=60) as server:
        with never_reading_client(server.port) as sock, log_event("slow reader") as dropped:
            async with asyncio.timeout(WRITE_TIMEOUT_S * 2 + PROMPT_S):
                await dropped.wait()
            received = 0
            sock.setblocking(False)
            loop = asyncio.get_running_loop()
            with contextlib.suppress(ConnectionResetError):
                async with asyncio.timeout(5):
                    while chunk := await loop.sock_recv(sock, MIB):
                        received += len(chunk)
    assert received < 16 * MIB  # the rest was dropped with the connection


async def test_slow_but_steady_reader_is_not_dropped() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % (2 * MIB))]})
            for _ in range(32):
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
            await send({"type": "http.response.body", "body": b""})

    async with asgidev.serve(app, timeout_write=WRITE_TIMEOUT_S) as server, open_raw(server.host, server.port) as (reader, writer):
        writer.write(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        received = b""
        async with asyncio.timeout(30):
            while chunk := await reader.read(256 * 1024):
                received += chunk
                await asyncio.sleep(WRITE_TIMEOUT_S / 4)  # a slow link: reading, but much slower than the server writes
    assert received.endswith(b"x" * 1000) and len(received.partition(b"\r\n\r\n")[2]) == 2 * MIB


async def test_websocket_client_that_never_reads_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asgidev")
    disconnected = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await apps.hello(scope, receive, send)
            return
        await receive()
        await send({"type": "websocket.accept"})
        try:
            while True:
                await send({"type": "websocket.send", "bytes": b"x" * 65536})
        except ClientDisconnectedError:
            disconnected.set()

    handshake = (
        b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    async with asgidev.serve(app, timeout_write=WRITE_TIMEOUT_S, ws_per_message_deflate=False) as server:
        with never_reading_client(server.port, handshake):
            async with asyncio.timeout(WRITE_TIMEOUT_S * 2 + PROMPT_S):
                await disconnected.wait()
            await assert_served_promptly(server.host, server.port)
    assert "slow reader" in caplog.text
