"""Property tests of the sans-IO HTTP/1.1 layer: bytes in, events or a protocol error out; no sockets.

Whatever a client sends, split however the network splits it, ``HTTP11Protocol``
raises nothing but ``HTTPProtocolError`` with a status asgidev means to send,
and every response it frames (normal or error) is one that h11, playing the
client, parses without complaint.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import h11
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from asgidev.protocols.headers import DefaultHeaders
from asgidev.protocols.http11 import (
    NEED_DATA,
    PAUSED,
    ConnectionClosed,
    HTTP11Protocol,
    HTTPProtocolError,
    InvalidResponseError,
    RequestBody,
    RequestEnd,
    RequestHead,
)

# The statuses the protocol layer may answer a client with (408 comes from the
# connection's timers, listed because it is part of the same contract).
PROTOCOL_ERROR_STATUSES = frozenset({400, 408, 413, 414, 431, 501, 505})

# Bounded so the whole file runs in a few seconds; deadline=None because the
# first examples pay for imports and a slow CI machine must not flake.
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
TOKEN = st.text(alphabet="!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=12)
# A field value h11 will send: visible ASCII and obs-text, spaces only inside.
FIELD_VALUE = st.binary(max_size=20).map(lambda b: bytes(c for c in b if c >= 0x21 and c != 0x7F))
TARGET = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~%/?=&", max_size=30).map(lambda s: "/" + s)
# Framing, routing and persistence headers are chosen by the request builder, not at random.
RESERVED = {"host", "content-length", "transfer-encoding", "connection", "upgrade", "expect"}


@dataclass
class Outcome:
    """What the server side saw: requests with their bodies, the responses, and how it stopped."""

    requests: list[tuple[bytes, bytes, list[tuple[bytes, bytes]], bytes]] = field(default_factory=list)
    error: HTTPProtocolError | None = None
    closed: bool = False
    responses: bytes = b""
    # The error response, and the method of the request it answers (what the client sent last).
    error_response: bytes = b""
    error_method: str = "GET"

    def summary(self) -> tuple[object, ...]:
        return (self.requests, self.error.status_code if self.error else None, self.closed)


DEFAULTS = DefaultHeaders([(b"server", b"asgidev")], is_dated=True)


def serve_bytes(chunks: list[bytes], *, close: bool = True) -> Outcome:
    """Drive one server-side connection as ``HTTPConnection`` does, answering each request with 200."""
    protocol = HTTP11Protocol()
    outcome = Outcome()
    body = b""
    current: RequestHead | None = None
    try:
        for chunk in [*chunks, b""] if close else chunks:
            protocol.receive_data(chunk)
            while True:
                event = protocol.next_event()
                if event is NEED_DATA:
                    break
                if isinstance(event, RequestHead):
                    current, body = event, b""
                elif isinstance(event, RequestBody):
                    body += bytes(event.data)
                elif isinstance(event, RequestEnd):
                    assert current is not None
                    outcome.requests.append((bytes(current.method), bytes(current.target), list(current.headers), body))
                    # The request is complete: answer it, then read the next one.
                    outcome.responses += protocol.response_head(200, [], complete_body=b"ok") + protocol.body(b"ok") + protocol.end()
                    if not protocol.is_keep_alive_ready:
                        return outcome
                    protocol.start_next_cycle()
                    current = None
                else:
                    assert isinstance(event, ConnectionClosed)
                    outcome.closed = True
                    return outcome
    except HTTPProtocolError as exc:
        outcome.error = exc
        outcome.error_method = current.method.decode("ascii") if current is not None else "GET"
        outcome.error_response = protocol.error_response(exc.status_code, exc.message, DEFAULTS)
    return outcome


@st.composite
def split_points(draw: st.DrawFn, data: bytes) -> list[bytes]:
    """``data`` cut into pieces at arbitrary places (as TCP may deliver it)."""
    cuts = sorted(draw(st.sets(st.integers(0, len(data)), max_size=8)))
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return [p for p in pieces if p]


@st.composite
def client_requests(draw: st.DrawFn) -> tuple[h11.Request, bytes, bytes]:
    """A valid request as h11's client serialises it: (event, body, wire bytes)."""
    method = draw(st.sampled_from(METHODS))
    names = draw(st.lists(TOKEN.filter(lambda n: n.lower() not in RESERVED), max_size=5))
    headers = [(b"Host", b"localhost"), *((name.encode(), draw(FIELD_VALUE)) for name in names)]
    body = b"" if method in ("GET", "HEAD") else draw(st.binary(max_size=200))
    is_chunked = bool(body) and draw(st.booleans())
    if body and not is_chunked:
        headers.append((b"Content-Length", b"%d" % len(body)))
    elif is_chunked:
        headers.append((b"Transfer-Encoding", b"chunked"))
    request = h11.Request(method=method, target=draw(TARGET), headers=headers)
    client = h11.Connection(h11.CLIENT)
    wire = client.send(request) or b""
    if body:
        # Several chunks when chunked, so chunk-size lines are exercised too.
        step = draw(st.integers(1, max(1, len(body))))
        for i in range(0, len(body), step):
            wire += client.send(h11.Data(data=body[i : i + step])) or b""
    wire += client.send(h11.EndOfMessage()) or b""
    return request, body, wire


MUTATIONS = st.sampled_from(["insert", "delete", "replace", "duplicate"])
INTERESTING_BYTES = st.sampled_from([b"\r", b"\n", b"\x00", b" ", b"\t", b":", b"0x", b"-", b"+", b"_", b"\x16\x03", b"\xff", b"\r\n"])


@st.composite
def mutated(draw: st.DrawFn, wire: bytes) -> bytes:
    """``wire`` with a few random edits, biased towards bytes that matter to HTTP framing."""
    data = bytearray(wire)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(MUTATIONS)
        at = draw(st.integers(0, len(data)))
        if kind == "insert":
            data[at:at] = draw(INTERESTING_BYTES | st.binary(min_size=1, max_size=4))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 8))]
        elif kind == "replace" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


def check_error(outcome: Outcome) -> None:
    if outcome.error is not None:
        assert outcome.error.status_code in PROTOCOL_ERROR_STATUSES
        assert outcome.error.message


def client_parses(method: str, wire: bytes) -> list[h11.Response | h11.InformationalResponse | h11.Data | h11.EndOfMessage]:
    """Parse ``wire`` as the response to one ``method`` request, with h11 as the client; return its events."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "localhost"), ("Content-Length", "0")]))
    client.send(h11.EndOfMessage())
    client.receive_data(wire)
    client.receive_data(b"")  # the server closes after errors and close-delimited bodies
    events: list[h11.Response | h11.InformationalResponse | h11.Data | h11.EndOfMessage] = []
    while True:
        event = client.next_event()
        if isinstance(event, h11.EndOfMessage):
            events.append(event)
            return events
        assert event is not h11.NEED_DATA, f"incomplete response: {wire!r}"
        assert not isinstance(event, h11.ConnectionClosed), f"closed before the response ended: {wire!r}"
        events.append(event)  # type: ignore[arg-type]


# -- never anything but HTTPProtocolError ---------------------------------------------


@FAST
@given(st.data(), st.binary(max_size=600))
@example(None, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")
@example(None, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
@example(None, b"\r\n" * 300)
def test_arbitrary_bytes_raise_only_protocol_errors(data: st.DataObject | None, raw: bytes) -> None:
    chunks = [raw] if data is None else data.draw(split_points(raw))
    check_error(serve_bytes(chunks))


@FAST
@given(st.data(), st.lists(st.sampled_from(
    [b"GET", b" ", b"/", b"HTTP/1.1", b"HTTP/1.0", b"\r\n", b"\n", b"Host: localhost", b"Content-Length: ", b"Transfer-Encoding: chunked",
     b"0", b"5", b"0x5", b"-1", b"hello", b":", b"\x00", b"\t", b"\r", b"POST", b"HEAD", b"Connection: close", b"Expect: 100-continue"]
), max_size=40))  # fmt: skip
def test_http_shaped_token_soup_raises_only_protocol_errors(data: st.DataObject, parts: list[bytes]) -> None:
    raw = b"".join(parts)
    check_error(serve_bytes(data.draw(split_points(raw))))


@FAST
@given(st.data(), client_requests())
def test_mutated_requests_raise_only_protocol_errors(data: st.DataObject, built: tuple[h11.Request, bytes, bytes]) -> None:
    _, _, wire = built
    raw = data.draw(mutated(wire))
    # Pipeline a second, valid request behind it: whatever the first did must not crash the second.
    check_error(serve_bytes(data.draw(split_points(raw + wire))))


# -- valid requests survive any split -------------------------------------------------


@FAST
@given(st.data(), client_requests(), st.integers(1, 3))
def test_valid_requests_parse_the_same_however_split(data: st.DataObject, built: tuple[h11.Request, bytes, bytes], copies: int) -> None:
    request, body, wire = built
    outcome = serve_bytes(data.draw(split_points(wire * copies)), close=False)
    assert outcome.error is None, outcome.error
    expected_headers = [(bytes(n).lower(), bytes(v)) for n, v in request.headers.raw_items()]
    assert outcome.requests == [(bytes(request.method), bytes(request.target), expected_headers, body)] * copies
    assert outcome.responses.count(b"HTTP/1.1 200 OK\r\n") == copies


@FAST
@given(st.data(), st.binary(max_size=300))
def test_split_points_do_not_change_the_outcome(data: st.DataObject, raw: bytes) -> None:
    # The parser's verdict must not depend on how TCP cut the bytes (a
    # difference is the seed of request smuggling between two parsers).
    whole = serve_bytes([raw])
    split = serve_bytes(data.draw(split_points(raw)))
    assert split.summary() == whole.summary()


# -- every response is one h11 can parse ----------------------------------------------


STATUSES = st.sampled_from([200, 201, 204, 206, 301, 304, 400, 404, 418, 500, 503]) | st.integers(200, 999)
# Values an app may legitimately send: visible characters, obs-text, SP and HTAB (RFC 9110 section 5.5).
APP_VALUE = st.binary(max_size=16).map(lambda b: bytes(c for c in b if c in (0x09, 0x20) or 0x21 <= c <= 0x7E or c >= 0x80))
APP_HEADERS = st.lists(st.tuples(TOKEN.map(str.encode), APP_VALUE), max_size=6)


@FAST
@given(st.data(), client_requests(), STATUSES, APP_HEADERS, st.lists(st.binary(max_size=50), max_size=4))
def test_normal_responses_parse_as_h11_client(
    data: st.DataObject, built: tuple[h11.Request, bytes, bytes], status: int, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> None:
    request, _, wire = built
    protocol = HTTP11Protocol()
    protocol.receive_data(wire)
    while protocol.next_event() not in (PAUSED, NEED_DATA):
        pass
    headers = [(n, v) for n, v in headers if n.lower() not in (b"content-length", b"transfer-encoding", b"connection")]
    body = b"".join(chunks)
    style = data.draw(st.sampled_from(["content-length", "complete", "streamed"]))
    if style == "content-length":
        headers.append((b"content-length", b"%d" % len(body)))
    defaults = DefaultHeaders([(b"server", b"asgidev")], is_dated=data.draw(st.booleans()))
    # Every status and header here is one an app may send: none is refused.
    out = protocol.response_head(status, headers, defaults, complete_body=body if style == "complete" else None)
    for chunk in [body] if style == "complete" else chunks:
        out += protocol.body(chunk)
    out += protocol.end()
    events = client_parses(request.method.decode(), out)
    response = events[0]
    assert isinstance(response, h11.Response)
    assert response.status_code == status
    received = b"".join(bytes(e.data) for e in events if isinstance(e, h11.Data))
    has_body = request.method != b"HEAD" and status not in (204, 304)
    assert received == (body if has_body else b"")
    sent = [(n.lower(), v) for n, v in response.headers.raw_items()]
    for name, value in headers:
        assert (name.lower(), value.strip(b" \t")) in sent


@FAST
@given(st.data(), st.one_of(st.binary(max_size=300), client_requests().flatmap(lambda built: mutated(built[2]))))
@example(None, b"GARBAGE\r\n\r\n")
def test_error_responses_parse_as_h11_client(data: st.DataObject | None, raw: bytes) -> None:
    outcome = serve_bytes([raw] if data is None else data.draw(split_points(raw)), close=False)
    if outcome.error is None:
        return
    response, *rest = client_parses(outcome.error_method, outcome.error_response)
    assert isinstance(response, h11.Response)
    assert response.status_code == outcome.error.status_code
    assert (b"connection", b"close") in [(n.lower(), v) for n, v in response.headers.raw_items()]
    if outcome.error_method != "HEAD":
        assert b"".join(bytes(e.data) for e in rest if isinstance(e, h11.Data)) == outcome.error.message.encode() + b"\n"


def test_error_after_a_head_request_keeps_its_body() -> None:
    outcome = serve_bytes([b"HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\nGARBAGE\r\n\r\n"], close=False)
    assert outcome.error is not None and outcome.error.status_code == 400
    _, *rest = client_parses("GET", outcome.error_response)
    assert b"".join(bytes(e.data) for e in rest if isinstance(e, h11.Data)) == outcome.error.message.encode() + b"\n"


@pytest.mark.parametrize("status", [100, 103, 199])
def test_interim_status_is_not_a_final_response(status: int) -> None:
    protocol = HTTP11Protocol()
    protocol.receive_data(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert isinstance(protocol.next_event(), RequestHead)
    with pytest.raises(InvalidResponseError):
        protocol.response_head(status, [])


@pytest.mark.parametrize("value", [b"\x0b", b"a\x0cb", b"a\x01b", b"\x1f", b"a\x7f"])
def test_control_characters_in_app_header_values_are_refused(value: bytes) -> None:
    protocol = HTTP11Protocol()
    protocol.receive_data(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    assert isinstance(protocol.next_event(), RequestHead)
    with pytest.raises(InvalidResponseError):
        protocol.response_head(200, [(b"x-app", value)], complete_body=b"")


def h11_body(head: bytes) -> bytes:
    """The body h11 itself, as a server, reads from the request ``head`` (and the bytes after it)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(head)
    body = b""
    while not isinstance(event := conn.next_event(), h11.EndOfMessage):
        assert event is not h11.NEED_DATA and event is not h11.PAUSED, head
        if isinstance(event, h11.Data):
            body += bytes(event.data)
    return body


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi",
        b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n",
    ],
)
def test_request_end_then_pipelined_request_then_eof(head: bytes) -> None:
    # A request without a body ends with its head (the protocol answers its end without h11;
    # Upgrade and Expect requests take h11's path): either way the body, the end, keep-alive
    # and what follows must be those h11 would give.
    protocol = HTTP11Protocol()
    protocol.receive_data(head + b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
    assert type(protocol.next_event()) is RequestHead
    events = []
    while (event := protocol.next_event()) not in (PAUSED, NEED_DATA):
        events.append(event)
    assert type(events[-1]) is RequestEnd and event is PAUSED
    assert b"".join(bytes(e.data) for e in events if isinstance(e, RequestBody)) == h11_body(head)
    assert protocol.next_event() is PAUSED  # asked again: still the pipelined request waiting
    head_bytes = protocol.response_head(200, [(b"content-length", b"0")], complete_body=b"", defaults=None)
    assert b"connection: close" not in head_bytes.lower() or b"upgrade" in head.lower()
    protocol.end()
    assert protocol.start_next_cycle() is True
    request = protocol.next_event()
    assert type(request) is RequestHead and request.target == b"/next"
    assert type(protocol.next_event()) is RequestEnd
    protocol.receive_data(b"")
    assert type(protocol.next_event()) is ConnectionClosed
