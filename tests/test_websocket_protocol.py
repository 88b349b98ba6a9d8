"""The sans-IO WebSocket protocol with bytes alone, driven by wsproto's client side as the peer."""

from __future__ import annotations

import base64
import os
import zlib

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.utilities import generate_accept_token

from asgidev.protocols import websocket
from asgidev.protocols.deflate import compressor_for
from asgidev.protocols.websocket import NEED_DATA, PONG, Closed, HandshakeError, Message, State, WebSocketProtocol

KEY = base64.b64encode(b"0123456789abcdef")
HEADERS = [
    (b"host", b"x"),
    (b"upgrade", b"websocket"),
    (b"connection", b"keep-alive, Upgrade"),
    (b"sec-websocket-key", KEY),
    (b"sec-websocket-version", b"13"),
    (b"sec-websocket-protocol", b"a, b"),
    (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits"),
]


def opened(*, max_message_bytes: int = 1 << 20, deflate: bool = False) -> tuple[WebSocketProtocol, Connection]:
    handshake = websocket.parse_handshake(b"GET", b"1.1", HEADERS)
    protocol = WebSocketProtocol(handshake, max_message_bytes=max_message_bytes)
    response = protocol.accept("b", [(b"x-extra", b"1")], allow_deflate=deflate)
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert b"sec-websocket-accept: " + generate_accept_token(KEY) in response
    assert b"sec-websocket-protocol: b\r\n" in response
    assert (b"permessage-deflate" in response) == deflate
    client_extensions: list[Extension] = []
    if deflate:
        extension = PerMessageDeflate()
        extension.finalize(response.split(b"sec-websocket-extensions: ")[1].split(b"\r\n")[0].decode())
        client_extensions.append(extension)
    return protocol, Connection(ConnectionType.CLIENT, client_extensions)


def events(protocol: WebSocketProtocol) -> list[websocket.WebSocketEvent]:
    found: list[websocket.WebSocketEvent] = []
    while (event := protocol.next_event()) is not NEED_DATA:
        found.append(event)
    return found


def test_is_websocket_upgrade_needs_both_headers() -> None:
    assert websocket.is_websocket_upgrade(HEADERS)
    assert not websocket.is_websocket_upgrade([(b"upgrade", b"websocket")])
    assert not websocket.is_websocket_upgrade([(b"upgrade", b"h2c"), (b"connection", b"upgrade")])


@pytest.mark.parametrize(
    ("method", "version", "drop", "status"),
    [
        (b"POST", b"1.1", b"", 400),
        (b"GET", b"1.0", b"", 400),
        (b"GET", b"1.1", b"sec-websocket-key", 400),
        (b"GET", b"1.1", b"sec-websocket-version", 426),
    ],
)
def test_invalid_handshakes(method: bytes, version: bytes, drop: bytes, status: int) -> None:
    with pytest.raises(HandshakeError) as info:
        websocket.parse_handshake(method, version, [h for h in HEADERS if h[0] != drop])
    assert info.value.status_code == status


def test_accept_refuses_unoffered_subprotocol_and_bad_headers() -> None:
    handshake = websocket.parse_handshake(b"GET", b"1.1", HEADERS)
    with pytest.raises(websocket.InvalidAcceptError):
        WebSocketProtocol(handshake, max_message_bytes=10).accept("c", [], allow_deflate=False)
    with pytest.raises(websocket.InvalidAcceptError):
        WebSocketProtocol(handshake, max_message_bytes=10).accept(None, [(b"x", b"a\r\nb")], allow_deflate=False)


def test_bytes_before_accept_are_kept_for_after() -> None:
    handshake = websocket.parse_handshake(b"GET", b"1.1", HEADERS)
    protocol = WebSocketProtocol(handshake, max_message_bytes=100)
    client = Connection(ConnectionType.CLIENT)
    protocol.receive_data(client.send(TextMessage(data="early")))
    assert protocol.next_event() is NEED_DATA
    assert protocol.unparsed_bytes > 0
    protocol.accept(None, [], allow_deflate=False)
    assert events(protocol) == [Message("early")]


@pytest.mark.parametrize("deflate", [False, True])
def test_fragments_reassembled_and_pings_answered(deflate: bool) -> None:
    protocol, client = opened(deflate=deflate)
    data = client.send(TextMessage(data="hé", message_finished=False)) + client.send(Ping(payload=b"p"))
    data += client.send(TextMessage(data="llo")) + client.send(BytesMessage(data=b"\x00" * 1000))
    for i in range(0, len(data), 3):  # byte-sized dribbles
        protocol.receive_data(data[i : i + 3])
    assert events(protocol) == [Message("héllo"), Message(b"\x00" * 1000)]
    client.receive_data(protocol.data_to_send())
    assert [type(e) for e in client.events()] == [Pong]


def test_pong_reported() -> None:
    protocol, client = opened()
    client.receive_data(protocol.ping(b"1"))
    ping = next(client.events())
    assert isinstance(ping, Ping)
    protocol.receive_data(client.send(ping.response()))
    assert events(protocol) == [PONG]


def test_peer_close_is_echoed() -> None:
    protocol, client = opened()
    protocol.receive_data(client.send(CloseConnection(code=4000, reason="bye")))
    assert events(protocol) == [Closed(4000, "bye")]
    assert protocol.state is State.CLOSED
    client.receive_data(protocol.data_to_send())
    assert next(client.events()) == CloseConnection(code=4000, reason="bye")


def test_our_close_then_echo() -> None:
    protocol, client = opened()
    late = client.send(TextMessage(data="crossed our close"))
    client.receive_data(protocol.close(1000, "done"))
    assert protocol.state is State.CLOSING
    echo = next(client.events())
    assert isinstance(echo, CloseConnection)
    protocol.receive_data(late + client.send(echo.response()))
    assert events(protocol) == [Closed(1000, "done")]
    assert protocol.data_to_send() == b""
    with pytest.raises(ValueError):
        protocol.close(1005)


@pytest.mark.parametrize("deflate", [False, True])
def test_message_too_big_fails_with_1009(deflate: bool) -> None:
    protocol, client = opened(max_message_bytes=1000, deflate=deflate)
    protocol.receive_data(client.send(TextMessage(data="é" * 500)))  # 1000 bytes in UTF-8: fits
    assert events(protocol) == [Message("é" * 500)]
    protocol.receive_data(client.send(BytesMessage(data=b"x" * 600, message_finished=False)))
    protocol.receive_data(client.send(BytesMessage(data=b"x" * 600)))
    (closed,) = events(protocol)
    assert closed == Closed(1009, "Message larger than 1000 bytes.", by_peer=False)
    client.receive_data(protocol.data_to_send())
    assert next(client.events()).code == 1009  # type: ignore[attr-defined]


def test_deflate_bomb_is_inflated_in_bounded_steps() -> None:
    protocol, client = opened(max_message_bytes=64 * 1024, deflate=True)
    bomb = client.send(BytesMessage(data=b"\x00" * (64 * 1024 * 1024)))
    assert len(bomb) < 128 * 1024
    protocol.receive_data(bomb)
    (closed,) = events(protocol)
    assert isinstance(closed, Closed) and closed.code == 1009
    assert protocol.unparsed_bytes == 0


def received(client: Connection, data: bytes) -> list[str | bytes]:
    client.receive_data(data)
    return [
        event.data if isinstance(event.data, str) else bytes(event.data)
        for event in client.events()
        if isinstance(event, (TextMessage, BytesMessage))
    ]


def test_deflate_answer_takes_no_context_over_so_each_message_stands_alone() -> None:
    handshake = websocket.parse_handshake(b"GET", b"1.1", HEADERS)
    response = WebSocketProtocol(handshake, max_message_bytes=1 << 20).accept(None, [], allow_deflate=True)
    assert b"sec-websocket-extensions: permessage-deflate; server_no_context_takeover" in response
    protocol, client = opened(deflate=True)
    message = '{"type": "update", "value": "hello world"}' * 20
    first, second = protocol.send_message(message), protocol.send_message(message)
    # With the context taken over, the second would be a few bytes of back-references.
    assert first == second
    assert first[0] & 0x40 and len(first) < len(message) // 4  # RSV1: compressed, and well
    assert received(client, first + second) == [message, message]


@pytest.mark.parametrize("size", [1, 300, 5000, 200_000])
def test_deflate_sends_what_does_and_does_not_compress_readably(size: int) -> None:
    protocol, client = opened(deflate=True)
    incompressible = os.urandom(size)
    text = ("asgidev " * size)[:size]
    frames = protocol.send_message(incompressible) + protocol.send_message(text)
    assert received(client, frames) == [incompressible, text]


def test_incompressible_data_is_huffman_coded_not_matched() -> None:
    # Huffman coding alone finds no repeats: a message that is a repeated random block stays its size.
    block = os.urandom(8192)
    repeated = block * 8
    huffman = compressor_for(repeated, 15)
    size = len(huffman.compress(repeated) + huffman.flush(zlib.Z_SYNC_FLUSH))
    assert size > len(repeated) * 0.9
    text = b"asgidev " * 8192
    matched = compressor_for(text, 15)
    assert len(matched.compress(text) + matched.flush(zlib.Z_SYNC_FLUSH)) < len(text) * 0.05


def test_protocol_error_fails_connection() -> None:
    protocol, _ = opened()
    protocol.receive_data(b"\x81\x05hello")  # unmasked client frame (RFC 6455 section 5.1)
    (closed,) = events(protocol)
    assert isinstance(closed, Closed) and closed.code == 1002 and not closed.by_peer
    assert protocol.data_to_send().startswith(b"\x88")
    protocol.receive_data(b"more garbage")
    assert protocol.next_event() is NEED_DATA
