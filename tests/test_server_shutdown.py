"""Server shutdown at the edges of accept(): what a worker does when a reload stops it.

In-process, so the test can line up the event loop's steps exactly; the reload
tests cover the same path statistically with real worker processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import ssl
import time
from pathlib import Path

import httpx
import pytest

import asgidev
from asgidev._types import Receive, Scope, Send
from asgidev.config import Config
from asgidev.server.server import Server
from asgidev.sockets import bind_sockets
from tests import apps
from tests.server_process import STOP_TIMEOUT_S, ServerProcess, is_process_gone, save_like_an_editor
from tests.waiting import wait_until

pytestmark = pytest.mark.anyio

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"


async def test_connection_accepted_as_shutdown_begins_is_handed_over() -> None:
    config = Config(port=0, access_log=False, lifespan="off")
    [listening] = bind_sockets(config)
    server = Server(config, apps.hello, [listening])
    await server.start()
    assert server.shared is not None
    handed: list[tuple[int, bytes]] = []
    server.shared.handoff = lambda fd, pending: handed.append((os.dup(fd), pending))

    async def serve_until_stopped() -> None:
        await server.wait_shutdown_requested()
        await server.shutdown()

    serving = asyncio.ensure_future(serve_until_stopped())
    await asyncio.sleep(0)  # serving now waits for the shutdown request
    client = socket.create_connection(listening.getsockname()[:2])
    try:
        client.sendall(REQUEST)
        # Block the loop until the connection is queued, then line up one loop
        # iteration in which the shutdown request runs first and asyncio's
        # accept() right after it (a STOP and a client arriving together).
        select.select([listening], [], [], 5)
        asyncio.get_running_loop().call_soon(server.request_shutdown)
        await asyncio.wait_for(serving, 5)
        # The connection was passed on, request unread, for the next worker to answer.
        assert len(handed) == 1
        fd, pending = handed[0]
        with socket.socket(fileno=fd) as passed:
            assert pending + passed.recv(1024) == REQUEST
    finally:
        client.close()
        listening.close()


async def test_a_failed_start_leaves_nothing_listening() -> None:
    """A start fails on its second socket (not a stream socket): the first is not left accepting connections nobody serves."""
    config = Config(port=0, access_log=False, lifespan="off")
    [listening] = bind_sockets(config)
    address = listening.getsockname()[:2]
    with listening, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as datagram:
        server = Server(config, apps.hello, [listening, datagram])
        with pytest.raises(ValueError, match="Stream Socket"):
            async with server.running():
                pytest.fail("served after a failed start")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=5).close()


# -- threads the app leaves running ---------------------------------------------------------

THREADED_APP = """
import os
import threading

# A non-daemon thread that never ends, as a scheduler or queue consumer would be.
threading.Thread(target=threading.Event().wait, name="app-forever").start()

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"%d %s" % (os.getpid(), VERSION)})

VERSION = b"one"
"""
# Well under the supervisor's grace period for a worker that does not stop (which was how long it took).
PROMPT_EXIT_S = 3.0


def served_by(url: str) -> tuple[int, bytes]:
    pid, version = httpx.get(url, timeout=5).content.split()
    return int(pid), version


def test_app_thread_does_not_keep_no_reload_alive(tmp_path: Path) -> None:
    (tmp_path / "threaded.py").write_text(THREADED_APP)
    server = ServerProcess.asgidev(["threaded:app", "--no-reload", "--port", "0"], tmp_path)
    try:
        url = server.wait_started()
        assert served_by(url)[1] == b"one"
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.wait_exit(timeout=STOP_TIMEOUT_S) == 0
        assert time.monotonic() - started < PROMPT_EXIT_S
    finally:
        server.stop()


def test_app_thread_does_not_keep_old_workers_or_the_supervisor_alive(tmp_path: Path) -> None:
    module = tmp_path / "threaded.py"
    module.write_text(THREADED_APP)
    server = ServerProcess.asgidev(["threaded:app", "--port", "0"], tmp_path)
    try:
        url = server.wait_started()
        old_pid, _ = served_by(url)
        save_like_an_editor(module, THREADED_APP.replace('b"one"', 'b"two"'))
        wait_until(lambda: served_by(url)[1] == b"two", timeout=30)
        started = time.monotonic()
        wait_until(lambda: is_process_gone(old_pid), timeout=STOP_TIMEOUT_S)
        assert time.monotonic() - started < PROMPT_EXIT_S
        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        assert server.wait_exit(timeout=STOP_TIMEOUT_S) == 0
        assert time.monotonic() - started < PROMPT_EXIT_S
    finally:
        server.stop()


async def test_request_tasks_leave_the_server_and_work_after_the_response_is_waited_for() -> None:
    """Each request's task is the server's until the app returns: none linger, and one still working is waited for."""
    finished = asyncio.Event()
    release = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        if scope["path"] == "/linger":
            await release.wait()  # work after the response is complete
            finished.set()

    async with asgidev.serve(app) as server, httpx.AsyncClient() as client:
        shared = server.server.shared
        assert shared is not None
        for _ in range(20):
            assert (await client.get(server.url)).text == "done"
        assert shared.tasks == set()  # returned apps leave no task behind
        assert (await client.get(server.url + "/linger")).text == "done"
        assert len(shared.tasks) == 1  # still the server's: the response is out, the app is not done
        asyncio.get_running_loop().call_later(0.05, release.set)
    assert finished.is_set()  # shutdown waited for it rather than dropping it


# -- HTTPS across a reload ------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:"))
    return head, await reader.readexactly(length)


@pytest.mark.parametrize("sends_next_request", [True, False], ids=["next-request-answered", "idle-closed-after-linger"])
async def test_idle_tls_connection_at_shutdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sends_next_request: bool) -> None:
    """A TLS session cannot be handed to the next worker: the request its client sends as the old worker stops is still answered."""
    from asgidev.server.connection_ending import TLS_SHUTDOWN_LINGER_S

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config = Config(port=0, access_log=False, lifespan="off", https=True)
    [listening] = bind_sockets(config)
    server = Server(config, apps.hello, [listening])
    await server.start()
    assert server.shared is not None
    context = ssl.create_default_context(cafile=str(tmp_path / "asgidev" / "localhost-ca.pem"))
    reader, writer = await asyncio.open_connection(*listening.getsockname()[:2], ssl=context, server_hostname="localhost")
    try:
        async with asyncio.timeout(5):
            writer.write(REQUEST)
            head, _ = await read_response(reader)
            assert b"connection: close" not in head.lower()
            # The worker is told to stop while this keep-alive connection is idle (what server.shutdown does to each).
            [connection] = server.shared.connections
            connection.shutdown()
            started = time.monotonic()
            if sends_next_request:
                writer.write(REQUEST)  # sent "at that instant": it must be answered, not met by a close
                head, body = await read_response(reader)
                assert head.startswith(b"HTTP/1.1 200 ") and b"connection: close" in head.lower()
                assert body == b"Hello, world!"
            assert await reader.read() == b""  # then the server closes cleanly, and the client reconnects
            if not sends_next_request:
                assert TLS_SHUTDOWN_LINGER_S * 0.9 <= time.monotonic() - started < TLS_SHUTDOWN_LINGER_S + 1.0
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()
        await server.shutdown()
        listening.close()
