"""WebSocket edge cases over raw sockets: malformed handshakes and frames, keepalive, shutdown."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from typing import Any

import pytest

import asgidev
from asgidev._types import Message, Receive, Scope, Send
from tests.conftest import RawClient

pytestmark = pytest.mark.anyio

KEY = base64.b64encode(b"0123456789abcdef")
HANDSHAKE = (
    b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
    % KEY
)
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA


def frame(opcode: int, payload: bytes, *, fin: bool = True, masked: bool = True, rsv: int = 0) -> bytes:
    """A client frame (RFC 6455 section 5.2), masked unless told otherwise."""
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mask_bit = 0x80 if masked else 0
    n = len(payload)
    if n < 126:
        head += bytes([mask_bit | n])
    elif n < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def read_exactly(client: RawClient, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = client.sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


def read_frame(client: RawClient) -> tuple[int, bytes]:
    """One unmasked server frame: (opcode, payload)."""
    first, second = read_exactly(client, 2)
    n = second & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", read_exactly(client, 2))
    elif n == 127:
        (n,) = struct.unpack("!Q", read_exactly(client, 8))
    return first & 0x0F, read_exactly(client, n)


def close_code(payload: bytes) -> int:
    return int(struct.unpack("!H", payload[:2])[0])


def open_websocket(raw_client: Any, server: asgidev.RunningServer, extra: bytes = b"") -> RawClient:
    client: RawClient = raw_client(server.host, server.port)
    client.send(HANDSHAKE + extra)
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += read_exactly(client, 1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return client


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "websocket":
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": scope["type"].encode()})
        return
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        await send({"type": "websocket.send", **{k: v for k, v in message.items() if k in ("text", "bytes")}})


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (HANDSHAKE.replace(b"Sec-WebSocket-Key: " + KEY + b"\r\n", b""), 400),
        (HANDSHAKE.replace(b"Sec-WebSocket-Key: " + KEY, b"Sec-WebSocket-Key: short"), 400),
        (HANDSHAKE.replace(b"Version: 13", b"Version: 8"), 426),
        (HANDSHAKE.replace(b"GET ", b"POST "), 400),
    ],
    ids=["no-key", "bad-key", "old-version", "post"],
)
async def test_bad_handshake_is_refused(raw_client: Any, request_bytes: bytes, status: int) -> None:
    async with asgidev.serve(echo) as server:
        client = raw_client(server.host, server.port)
        await asyncio.to_thread(client.send, request_bytes)
        response = await asyncio.to_thread(client.read_until_close)
    assert response.startswith(b"HTTP/1.1 %d " % status), response
    if status == 426:
        assert b"sec-websocket-version: 13" in response.lower()


async def test_upgrade_without_connection_upgrade_is_plain_http(raw_client: Any) -> None:
    async with asgidev.serve(echo) as server:
        client = raw_client(server.host, server.port)
        request = HANDSHAKE.replace(b"Connection: Upgrade\r\n", b"Connection: close\r\n")
        await asyncio.to_thread(client.send, request)
        response = await asyncio.to_thread(client.read_until_close)
    assert response.startswith(b"HTTP/1.1 200 ")
    assert response.endswith(b"http")


async def test_upgrade_after_keep_alive_request_and_frames_in_same_packet(raw_client: Any) -> None:
    async with asgidev.serve(echo) as server:
        client = raw_client(server.host, server.port)
        await asyncio.to_thread(client.send, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert (await asyncio.to_thread(client.read_response)).endswith(b"http")
        # The handshake with two frames right behind it: h11's trailing data.
        await asyncio.to_thread(client.send, HANDSHAKE + frame(TEXT, b"first") + frame(BINARY, b"second"))
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += await asyncio.to_thread(read_exactly, client, 1)
        assert head.startswith(b"HTTP/1.1 101 ")
        assert await asyncio.to_thread(read_frame, client) == (TEXT, b"first")
        assert await asyncio.to_thread(read_frame, client) == (BINARY, b"second")
        client.close()  # else shutdown waits out the grace period for our close echo


async def test_fragments_with_ping_between_are_reassembled(raw_client: Any) -> None:
    async with asgidev.serve(echo) as server:
        client = await asyncio.to_thread(open_websocket, raw_client, server)
        data = frame(TEXT, b"he", fin=False) + frame(PING, b"p1") + frame(0x0, b"ll", fin=False) + frame(0x0, b"o")
        await asyncio.to_thread(client.send, data)
        assert await asyncio.to_thread(read_frame, client) == (PONG, b"p1")
        assert await asyncio.to_thread(read_frame, client) == (TEXT, b"hello")
        client.close()


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (frame(TEXT, b"unmasked", masked=False), 1002),
        (frame(0x3, b"reserved opcode"), 1002),
        (frame(TEXT, b"\xff\xfe not utf-8"), 1007),
        (frame(PING, b"x" * 126), 1002),  # control frames carry at most 125 bytes
        (frame(0x0, b"continuation without a start"), 1002),
        (frame(TEXT, b"rsv1 without deflate", rsv=0x40), 1002),
    ],
    ids=["unmasked", "opcode", "utf8", "long-ping", "stray-continuation", "rsv1"],
)
async def test_malformed_frame_closes_with_protocol_error(raw_client: Any, bad: bytes, code: int) -> None:
    async with asgidev.serve(echo) as server:
        client = await asyncio.to_thread(open_websocket, raw_client, server)
        await asyncio.to_thread(client.send, bad)
        opcode, payload = await asyncio.to_thread(read_frame, client)
        assert opcode == CLOSE
        assert close_code(payload) == code
        assert await asyncio.to_thread(client.read_until_close) == b""
        # The server keeps serving.
        other = await asyncio.to_thread(open_websocket, raw_client, server)
        await asyncio.to_thread(other.send, frame(TEXT, b"still here"))
        assert await asyncio.to_thread(read_frame, other) == (TEXT, b"still here")
        other.close()


async def test_close_handshake_echoes_and_server_closes_tcp(raw_client: Any) -> None:
    async with asgidev.serve(echo) as server:
        client = await asyncio.to_thread(open_websocket, raw_client, server)
        await asyncio.to_thread(client.send, frame(CLOSE, struct.pack("!H", 1001) + b"away"))
        opcode, payload = await asyncio.to_thread(read_frame, client)
        assert (opcode, close_code(payload)) == (CLOSE, 1001)
        assert await asyncio.to_thread(client.read_until_close) == b""


async def test_keepalive_ping_and_timeout(raw_client: Any) -> None:
    async with asgidev.serve(echo, ws_ping_interval=0.05, ws_ping_timeout=0.1) as server:
        client = await asyncio.to_thread(open_websocket, raw_client, server)
        opcode, payload = await asyncio.to_thread(read_frame, client)
        assert opcode == PING
        await asyncio.to_thread(client.send, frame(PONG, payload))  # answered: the connection lives on
        assert (await asyncio.to_thread(read_frame, client))[0] == PING
        # Now stay silent: the next pong deadline passes and the server gives up with 1011.
        while True:
            opcode, payload = await asyncio.to_thread(read_frame, client)
            if opcode == CLOSE:
                break
        assert close_code(payload) == 1011
        assert await asyncio.to_thread(client.read_until_close) == b""


async def test_shutdown_aborts_client_that_ignores_close_after_grace(raw_client: Any) -> None:
    async with asgidev.serve(echo, timeout_graceful_shutdown=0.1) as server:
        client = await asyncio.to_thread(open_websocket, raw_client, server)
        shutting_down = asyncio.create_task(server.server.shutdown())
        opcode, payload = await asyncio.to_thread(read_frame, client)
        assert (opcode, close_code(payload)) == (CLOSE, 1012)
        # No echo from us: the server drops the connection once the grace period is over.
        assert await asyncio.to_thread(client.read_until_close) == b""
        await shutting_down
        assert server.server.shared is not None and not server.server.shared.connections


async def test_client_vanishing_gives_1006(raw_client: Any) -> None:
    seen: asyncio.Future[Message] = asyncio.get_running_loop().create_future()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept"})
            seen.set_result(await receive())

    async with asgidev.serve(app) as server:
        client = await asyncio.to_thread(open_websocket, raw_client, server)
        client.sock.shutdown(socket.SHUT_RDWR)
        message = await asyncio.wait_for(seen, 5.0)
    assert message["type"] == "websocket.disconnect"
    assert message["code"] == 1006


@pytest.mark.parametrize("value", [b"a\x01b", b"\x0b", b"a\x1fb", b"a\x7f"], ids=["soh", "vt", "us", "del"])
async def test_101_refuses_control_characters_as_http_responses_do(raw_client: Any, value: bytes) -> None:
    # One header validator for every response: a value an HTTP response may not carry
    # may not reach the client in a 101 either (the old WebSocket path let these through).
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 200, "headers": [(b"x-app", value)]})
            await send({"type": "http.response.body", "body": b"ok"})
        elif scope["type"] == "websocket":
            await receive()
            await send({"type": "websocket.accept", "headers": [(b"x-app", value)]})

    async with asgidev.serve(app, raise_app_exceptions=False) as server:
        responses = []
        for request in (b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", HANDSHAKE):
            client = raw_client(server.host, server.port)
            await asyncio.to_thread(client.send, request)
            responses.append(await asyncio.to_thread(client.read_until_close))
        errors = [str(exc) for exc in server.server.shared.app_exceptions] if server.server.shared is not None else []
    for response in responses:
        assert response.startswith(b"HTTP/1.1 500 "), response
        assert value not in response
    assert len(errors) == 2 and all("invalid characters in the value of header 'x-app'" in e for e in errors), errors
