"""Server shutdown at the edges of accept(): what a worker does when a reload stops it.

In-process, so the test can line up the event loop's steps exactly; the reload
tests cover the same path statistically with real worker processes.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket

import pytest

from asgidev.config import Config
from asgidev.server.server import Server
from asgidev.sockets import bind_sockets
from tests import apps

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
