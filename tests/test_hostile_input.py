"""Malformed and adversarial HTTP/1.1 against a real server: a corpus of bytes and what each must get.

Every entry is sent on its own connection to a fresh server. Whatever it is,
the server answers with a well-formed response (or closes cleanly) within a
bound, the app never sees a request that was refused, nothing with CR, LF or
NUL reaches the app's headers, and the next client is served.
Cases already in tests/test_http.py (``test_bad_requests_get_4xx_and_close``)
are not repeated here. Then request-smuggling probes (each followed by a
request a proxy would not have seen), Upgrades asgidev does not perform, and
asgidev's own responses through REDbot's linter (httplint).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

import h11
import pytest

import asgidev
from asgidev._types import Receive, Scope, Send

pytestmark = pytest.mark.anyio

# Small timeouts keep the corpus fast: a request that never completes is cut
# off by the head timeout (408), a served keep-alive connection closes soon.
SERVER_OPTIONS: dict[str, Any] = {"timeout_request_head": 0.5, "timeout_request_body": 0.5, "timeout_keep_alive": 0.2}
# How long any one exchange may take before the test calls it a hang.
EXCHANGE_DEADLINE_S = 5.0

H = b"Host: localhost\r\n"
CHUNKED = b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"


@dataclass(frozen=True)
class Expect:
    """Acceptable first statuses (None: closed without a response) and how far the app may get.

    app: "never" (refused before the app), "no-body" (the head was fine, so the
    app may start, but it never receives a complete body), "served", or "any".
    """

    statuses: frozenset[int | None]
    app: str
    log: str | None = None


def refused(status: int) -> Expect:
    return Expect(frozenset({status}), "never")


def refused_body(status: int) -> Expect:
    return Expect(frozenset({status}), "no-body")


def served() -> Expect:
    return Expect(frozenset({200}), "served")


def served_or_refused(status: int = 400) -> Expect:
    return Expect(frozenset({200, status}), "any")


# fmt: off
CORPUS = [
    # -- the request line ------------------------------------------------------------------
    pytest.param(b"GET /a\x00b HTTP/1.1\r\n" + H + b"\r\n", refused(400), id="nul-in-target"),
    pytest.param(b"GET /a\x01b HTTP/1.1\r\n" + H + b"\r\n", refused(400), id="ctl-in-target"),
    pytest.param(b"GET /a\x7fb HTTP/1.1\r\n" + H + b"\r\n", refused(400), id="del-in-target"),
    pytest.param(b"GET /a b HTTP/1.1\r\n" + H + b"\r\n", refused(400), id="space-in-target"),
    pytest.param(b"GET /\xff\xfe HTTP/1.1\r\n" + H + b"\r\n", refused(400), id="non-ascii-target"),
    pytest.param(b"G\x00T / HTTP/1.1\r\n" + H + b"\r\n", refused(400), id="nul-in-method"),
    pytest.param(b"GET  /  HTTP/1.1\r\n" + H + b"\r\n", refused(400), id="double-spaces"),
    pytest.param(b"GET /\r\n" + H + b"\r\n", refused(400), id="no-version"),
    pytest.param(b"GET /\r\n\r\n", refused(400), id="http-0.9"),
    pytest.param(b"GET / HTTP/1.x\r\n" + H + b"\r\n", refused(400), id="junk-version"),
    pytest.param(b"GET / HTTP/3.0\r\n" + H + b"\r\n", refused(505), id="http3-version"),
    pytest.param(b"\x00" * 64, refused(400), id="nul-bytes"),
    # The HTTP/2 connection preface (RFC 9113 section 3.4) parses as a request line with version 2.0.
    pytest.param(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Expect(frozenset({505, None}), "never"), id="http2-preface"),
    # TLS 1.2 record version (tests/test_security.py sends the TLS 1.0 one): no bytes back, one log line.
    pytest.param(
        bytes.fromhex("1603030100010000fc0303") + b"\x01" * 32 + b"\x00" * 200,
        Expect(frozenset({None}), "never", log="this server speaks HTTP, not HTTPS"),
        id="tls-client-hello",
    ),
    # -- header fields ---------------------------------------------------------------------
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X\x00Y: v\r\n\r\n", refused(400), id="nul-in-header-name"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X\xffY: v\r\n\r\n", refused(400), id="non-token-header-name"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b": v\r\n\r\n", refused(400), id="empty-header-name"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X : v\r\n\r\n", refused(400), id="space-before-colon"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"NoColon\r\n\r\n", refused(400), id="header-without-colon"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X: a\x00b\r\n\r\n", refused(400), id="nul-in-header-value"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X: a\rb\r\n\r\n", refused(400), id="bare-cr-in-header-value"),
    # RFC 9110 section 5.5: other CTLs are invalid, but recipients MAY keep them for robustness.
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X: a\x01b\r\n\r\n", served_or_refused(), id="ctl-in-header-value"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + "X: é\r\n\r\n".encode(), served(), id="utf8-header-value"),
    # obs-fold (RFC 9112 section 5.2): a server may unfold it into SP; what reaches the app has no CRLF.
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n b\r\n\r\n", served_or_refused(), id="obs-fold"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n\tb\r\n\r\n", served_or_refused(), id="obs-fold-tab"),
    pytest.param(b"GET / HTTP/1.1\r\n X: a\r\n" + H + b"\r\n", refused(400), id="obs-fold-on-first-line"),
    # RFC 9112 section 3.2: more than one Host is a 400, even when both are allowed names.
    pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: localhost\r\n\r\n", refused(400), id="duplicate-host"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n", refused(400), id="second-host-foreign"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: local\x00host\r\n\r\n", refused(400), id="nul-in-host"),
    # -- line endings ----------------------------------------------------------------------
    # RFC 9112 section 2.2 lets a recipient accept a bare LF as a line terminator.
    pytest.param(b"GET / HTTP/1.1\n" + b"Host: localhost\n\n", served_or_refused(), id="bare-lf"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: localhost\n\r\n", served_or_refused(), id="mixed-line-endings"),
    # A bare CR never ends a line: the head never completes, so the head timeout answers.
    pytest.param(b"GET / HTTP/1.1\rHost: localhost\r\r", Expect(frozenset({400, 408}), "never"), id="bare-cr-line-endings"),
    # RFC 9112 section 2.2: a server SHOULD ignore at least one empty line before a request line.
    pytest.param(b"\r\nGET / HTTP/1.1\r\n" + H + b"\r\n", served(), id="leading-empty-line"),
    pytest.param(b"\r\n\r\n\nGET / HTTP/1.1\r\n" + H + b"\r\n", served(), id="leading-empty-lines"),
    pytest.param(b"\r\n" * 5 + b"GET / HTTP/1.1\r\n" + H + b"\r\n", refused(400), id="too-many-leading-empty-lines"),
    pytest.param(b"\r\n" * 100_000, Expect(frozenset({400, 431, None}), "never"), id="crlf-flood-200k"),
    pytest.param(b"\n" * 200_000, Expect(frozenset({400, 431, None}), "never"), id="lf-flood-200k"),
    # -- sizes -----------------------------------------------------------------------------
    pytest.param(b"GET /" + b"a" * 8191 + b" HTTP/1.1\r\n" + H + b"\r\n", served(), id="target-at-limit"),
    pytest.param(b"GET /" + b"a" * 8192 + b" HTTP/1.1\r\n" + H + b"\r\n", refused(414), id="target-over-limit"),
    pytest.param(b"GET /" + b"a" * 100_000, refused(414), id="request-line-never-ends"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n" * 20_000 + b"\r\n", refused(431), id="many-small-headers"),
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"X: " + b"a" * 100_000, refused(431), id="header-never-ends"),
    # -- Content-Length ----------------------------------------------------------------------
    # RFC 9112 section 6.3: identical duplicates (or a list of identical values)
    # may be accepted as that one value; differing ones are unrecoverable.
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", served(), id="duplicate-cl-identical"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5, 5\r\n\r\nhello", served_or_refused(), id="cl-list-identical"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello", refused(400), id="cl-list-conflicting"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n", refused(400), id="cl-negative"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello", refused(400), id="cl-plus-sign"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0x5\r\n\r\nhello", refused(400), id="cl-hex"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 0_5\r\n\r\nhello", refused(400), id="cl-underscore"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1 2\r\n\r\nhello", refused(400), id="cl-inner-space"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: " + b"9" * 30 + b"\r\n\r\nhello", refused(400), id="cl-huge"),
    # -- Transfer-Encoding --------------------------------------------------------------------
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", refused(400), id="te-then-cl"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", refused(501), id="te-gzip-chunked"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", refused(501), id="te-chunked-not-last"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity\r\n\r\n", refused(501), id="te-identity"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", refused(501), id="te-xchunked"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", refused(501), id="te-twice"),
    # RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 means faulty framing (a 1.0 proxy reads no chunks).
    pytest.param(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", refused(400), id="te-in-http10"),
    # -- chunk sizes: the head is fine (the app may start) but the body never completes --------
    # Each of these is accepted by Python's int(..., 16); none is a valid chunk-size (1*HEXDIG).
    pytest.param(CHUNKED + b"0_5\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-underscore"),
    pytest.param(CHUNKED + b" 5\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-leading-space"),
    pytest.param(CHUNKED + b"+5\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-plus"),
    pytest.param(CHUNKED + b"-1\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-negative"),
    pytest.param(CHUNKED + b"f" * 40 + b"\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-huge"),
    pytest.param(CHUNKED + b"\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-empty"),
    pytest.param(CHUNKED + b"g\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-not-hex"),
    pytest.param(CHUNKED + b"5\r\nhelloXX0\r\n\r\n", refused_body(400), id="chunk-data-overrun"),
    # Read leniently by h11 (and so by uvicorn), each read differently by some proxy: refused.
    pytest.param(CHUNKED + b"5 \r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-trailing-space"),
    pytest.param(CHUNKED + b"5\t\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-trailing-tab"),
    pytest.param(CHUNKED + b"5 ;a=b\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-ext-bws"),
    pytest.param(CHUNKED + b"5;a\rb\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-ext-bare-cr"),
    pytest.param(CHUNKED + b"5;a\x00\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-ext-nul"),
    pytest.param(CHUNKED + b"5;\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-ext-empty-name"),
    pytest.param(CHUNKED + b"5\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-bare-lf"),
    pytest.param(CHUNKED + b"5\r\nhello\n0\r\n\r\n", refused_body(400), id="chunk-data-bare-lf"),
    pytest.param(CHUNKED + b"5\r\nhello\r\n0\r\n\n", refused_body(400), id="last-chunk-bare-lf"),
    # 2**64: a 64-bit parser in a proxy wraps it to 0, while the app would wait for 16 EiB.
    pytest.param(CHUNKED + b"1" + b"0" * 16 + b"\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-17-digits"),
    pytest.param(CHUNKED + b"8" + b"0" * 15 + b"\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-size-over-limit"),
    pytest.param(CHUNKED + b"0" * 15 + b"5\r\nhello\r\n0\r\n\r\n", served(), id="chunk-size-16-digits"),
    pytest.param(CHUNKED + b"5;" + b"a" * 5000 + b"\r\nhello\r\n0\r\n\r\n", refused_body(400), id="chunk-ext-too-long"),
    pytest.param(CHUNKED + b"5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n", served(), id="chunked-trailer"),
    pytest.param(CHUNKED + b"5\r\nhello\r\n0\r\nX-T 1\r\n\r\n", refused_body(400), id="chunked-trailer-no-colon"),
    pytest.param(CHUNKED + b"5\r\nhello\r\n0\r\nX-T: " + b"a" * 20_000 + b"\r\n\r\n", refused_body(400), id="chunked-trailer-too-large"),
    # Chunk extensions are ignored (RFC 9112 section 7.1.1) once they are grammatical.
    pytest.param(CHUNKED + b"5;name=value\r\nhello\r\n0\r\n\r\n", served(), id="chunk-extension"),
    pytest.param(CHUNKED + b'5;a;b="x\\"y"\r\nhello\r\n0\r\n\r\n', served(), id="chunk-extension-quoted"),
    # -- framing games ---------------------------------------------------------------------
    # Bytes past Content-Length are the next request on the connection: here garbage, so 200 then 400.
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhelloGARBAGE\x00\x01\r\n\r\n", served(), id="body-longer-than-cl"),
    pytest.param(b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nConnection: close\r\n\r\nhi", refused_body(408), id="body-shorter-than-cl"),
    # Half a WebSocket handshake: refused by the upgrade path before any app sees it (RFC 6455 section 4.4).
    pytest.param(b"GET / HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", refused(426), id="ws-no-version"),
    pytest.param(
        b"GET / HTTP/1.1\r\n" + H + b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
        Expect(frozenset({400, 426}), "never"),
        id="ws-no-key",
    ),
]
# fmt: on


@dataclass
class Exchange:
    """What a client got back: the responses, parsed by h11, and whether the server reset the connection."""

    responses: list[tuple[int, dict[bytes, bytes], bytes]]
    is_reset: bool


def parse_responses(data: bytes, method: str = "GET") -> list[tuple[int, dict[bytes, bytes], bytes]]:
    """Every response in ``data``, parsed by h11 as a client would; fails on anything malformed."""
    responses = []
    while data:
        client = h11.Connection(h11.CLIENT)
        client.send(h11.Request(method=method, target="/", headers=[("Host", "localhost")]))
        client.send(h11.EndOfMessage())
        client.receive_data(data)
        client.receive_data(b"")
        response = client.next_event()
        assert isinstance(response, h11.Response), response
        body = b""
        while not isinstance(event := client.next_event(), h11.EndOfMessage):
            assert isinstance(event, h11.Data), event
            body += bytes(event.data)
        responses.append((response.status_code, dict(response.headers.raw_items()), body))
        data = client.trailing_data[0]
    return responses


async def exchange(host: str, port: int, data: bytes, *, one_byte_writes: bool = False) -> Exchange:
    """Send ``data`` and read until the server closes (bounded by EXCHANGE_DEADLINE_S)."""
    reader, writer = await asyncio.open_connection(host, port)
    received = b""
    is_reset = False
    try:
        if one_byte_writes:
            for i in range(len(data)):
                writer.write(data[i : i + 1])
                await writer.drain()
                await asyncio.sleep(0.002)
        else:
            writer.write(data)  # not drained: the server may stop reading, which is its right
        async with asyncio.timeout(EXCHANGE_DEADLINE_S):
            while chunk := await reader.read(65536):
                received += chunk
    except (ConnectionResetError, BrokenPipeError):
        is_reset = True
    except TimeoutError:
        pytest.fail(f"server neither answered nor closed within {EXCHANGE_DEADLINE_S}s; got {received[:200]!r}")
    finally:
        writer.transport.abort()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return Exchange(parse_responses(received), is_reset)


class RecordingApp:
    """Says hello, reading the whole body first; records what it saw."""

    def __init__(self) -> None:
        self.scopes: list[Scope] = []
        self.complete_bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.scopes.append(scope)
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.complete_bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"Hello, world!"})


async def assert_still_serving(host: str, port: int) -> None:
    started = time.monotonic()
    result = await exchange(host, port, b"GET /after HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    assert [status for status, _, _ in result.responses] == [200]
    assert time.monotonic() - started < 1.0


def assert_headers_clean(app: RecordingApp) -> None:
    """Nothing the app was given can end a header line or smuggle a NUL (RFC 9110 section 5.5)."""
    for scope in app.scopes:
        for name, value in scope["headers"]:
            assert name == name.lower() and name.isascii() and b":" not in name and b" " not in name
            assert not set(b"\r\n\x00") & set(name + value), (name, value)


@pytest.mark.parametrize(("request_bytes", "expected"), CORPUS)
async def test_hostile_request(request_bytes: bytes, expected: Expect, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    app = RecordingApp()
    async with asgidev.serve(app, **SERVER_OPTIONS) as server:
        result = await exchange(server.host, server.port, request_bytes)
        first = result.responses[0][0] if result.responses else None
        assert first in expected.statuses, (result.responses[:2], result.is_reset)
        if first is not None and first >= 400:
            _, headers, body = result.responses[0]
            assert headers.get(b"connection") == b"close"
            assert headers.get(b"content-type", b"").startswith(b"text/plain")
            assert body.endswith(b"\n") and body.count(b"\n") == 1  # one plain line
        await assert_still_serving(server.host, server.port)
    hostile_scopes = [s for s in app.scopes if s["path"] != "/after"]
    if expected.app == "never" or (expected.app == "any" and first != 200):
        assert not hostile_scopes
    elif expected.app == "no-body":
        assert len(app.complete_bodies) == 1  # only the /after request's
    elif expected.app == "served":
        assert hostile_scopes
    assert_headers_clean(app)
    if expected.log:
        assert expected.log in caplog.text


async def test_body_longer_than_content_length_is_the_next_request() -> None:
    app = RecordingApp()
    async with asgidev.serve(app, **SERVER_OPTIONS) as server:
        result = await exchange(
            server.host, server.port, b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhelloGARBAGE\x00\x01\r\n\r\n"
        )
    assert [status for status, _, _ in result.responses] == [200, 400]
    assert app.complete_bodies == [b"hello"]


@pytest.mark.parametrize("one_byte_writes", [False, True], ids=["whole", "byte-by-byte"])
async def test_crlf_after_a_body_is_skipped_before_the_next_request(one_byte_writes: bool) -> None:
    # Some clients end a POST body with an extra CRLF (RFC 9112 section 2.2 asks servers to skip it).
    app = RecordingApp()
    request = b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello\r\nGET /next HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
    async with asgidev.serve(app, **SERVER_OPTIONS) as server:
        result = await exchange(server.host, server.port, request, one_byte_writes=one_byte_writes)
    assert [status for status, _, _ in result.responses] == [200, 200]
    assert [scope["path"] for scope in app.scopes] == ["/", "/next"]


async def test_obs_fold_reaches_the_app_unfolded() -> None:
    app = RecordingApp()
    async with asgidev.serve(app, **SERVER_OPTIONS) as server:
        result = await exchange(server.host, server.port, b"GET / HTTP/1.1\r\n" + H + b"X-Folded: a\r\n  b\r\nConnection: close\r\n\r\n")
    if result.responses[0][0] == 200:
        assert (b"x-folded", b"a b") in app.scopes[0]["headers"]


async def test_header_block_in_one_byte_writes_is_served() -> None:
    app = RecordingApp()
    request = (
        b"POST /slow?x=1 HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nX-Long: " + b"v" * 40 + b"\r\nConnection: close\r\n\r\nhello"
    )
    async with asgidev.serve(app) as server:
        result = await exchange(server.host, server.port, request, one_byte_writes=True)
    assert [status for status, _, _ in result.responses] == [200]
    assert app.complete_bodies == [b"hello"]
    assert (b"x-long", b"v" * 40) in app.scopes[0]["headers"]


async def test_error_after_head_request_has_a_body() -> None:
    app = RecordingApp()
    async with asgidev.serve(app, **SERVER_OPTIONS) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(b"HEAD / HTTP/1.1\r\n" + H + b"\r\nGARBAGE\r\n\r\n")
            async with asyncio.timeout(EXCHANGE_DEADLINE_S):
                data = await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
    head_response, _, rest = data.partition(b"\r\n\r\n")
    assert head_response.startswith(b"HTTP/1.1 200 ")
    assert len(parse_responses(rest)[0][2]) > 0


async def test_spoofed_forwarded_for_behind_an_appending_proxy() -> None:
    app = RecordingApp()
    async with asgidev.serve(app, proxy_headers=True, **SERVER_OPTIONS) as server:
        # What nginx's $proxy_add_x_forwarded_for sends when a client at 203.0.113.9 claims to be 10.0.0.1.
        await exchange(
            server.host, server.port, b"GET / HTTP/1.1\r\n" + H + b"X-Forwarded-For: 10.0.0.1, 203.0.113.9\r\nConnection: close\r\n\r\n"
        )
    assert app.scopes[0]["client"][0] == "203.0.113.9"


# -- request smuggling ---------------------------------------------------------------------
# Each probe is a request whose end two parsers could place differently, followed by a
# request a proxy would not have seen. asgidev must refuse the first, and so never parse
# the second: the app never sees /smuggled, and no ambiguous body ever completes.
SMUGGLED = b"GET /smuggled HTTP/1.1\r\n" + H + b"\r\n"
POST = b"POST / HTTP/1.1\r\n" + H
# fmt: off
SMUGGLING_PROBES = [
    pytest.param(POST + b"Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, id="cl-te"),
    pytest.param(POST + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\n" + SMUGGLED + b"\r\n0\r\n\r\n", id="te-cl"),
    pytest.param(POST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, id="te-space-before-colon"),
    pytest.param(POST + b"Transfer-Encoding:\r\n chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED, id="te-obs-fold-with-cl"),
    pytest.param(POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n" + SMUGGLED, id="te-te-identity"),
    pytest.param(POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n0\r\n\r\n" + SMUGGLED, id="te-te-junk"),
    pytest.param(POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, id="te-chunked-twice"),
    pytest.param(POST + b"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n" + SMUGGLED, id="te-vertical-tab"),
    pytest.param(POST + b"Transfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n" + SMUGGLED, id="te-quoted"),
    pytest.param(POST + b"Transfer-Encoding: chunk\r\n\r\n0\r\n\r\n" + SMUGGLED, id="te-chunk"),
    pytest.param(POST + b"Transfer-Encoding\x00: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, id="te-nul-in-name"),
    pytest.param(POST + b"Content-Length: 5\r\nContent-Length: 47\r\n\r\nhello" + SMUGGLED, id="cl-cl"),
    pytest.param(POST + b"Content-Length: 5\r\nContent-length: 47\r\n\r\nhello" + SMUGGLED, id="cl-cl-case"),
    pytest.param(POST + b"Content-Length: 0x2f\r\n\r\n" + SMUGGLED, id="cl-hex"),
    pytest.param(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2f\r\n" + SMUGGLED + b"\r\n0\r\n\r\n", id="te-in-http10"),
    pytest.param(CHUNKED + b"2 \r\nxx\r\n0\r\n\r\n" + SMUGGLED, id="chunk-size-space"),
    pytest.param(CHUNKED + b"2;\rx\r\nxx\r\n0\r\n\r\n" + SMUGGLED, id="chunk-ext-bare-cr"),
    pytest.param(CHUNKED + b"2\nxx\r\n0\r\n\r\n" + SMUGGLED, id="chunk-size-bare-lf"),
    pytest.param(CHUNKED + b"1" + b"0" * 16 + b"2\r\nxx\r\n0\r\n\r\n" + SMUGGLED, id="chunk-size-wraps-64-bits"),
    pytest.param(CHUNKED + b"0x2\r\nxx\r\n0\r\n\r\n" + SMUGGLED, id="chunk-size-0x"),
    pytest.param(CHUNKED + b"2\r\nxxx\r\n0\r\n\r\n" + SMUGGLED, id="chunk-data-overrun"),
    pytest.param(CHUNKED + b"2\r\nxx\r\n0\r\n" + SMUGGLED, id="trailer-is-a-request"),
]
# fmt: on


@pytest.mark.parametrize("request_bytes", SMUGGLING_PROBES)
async def test_smuggling_probe_is_refused(request_bytes: bytes) -> None:
    app = RecordingApp()
    async with asgidev.serve(app, **SERVER_OPTIONS) as server:
        result = await exchange(server.host, server.port, request_bytes)
        await assert_still_serving(server.host, server.port)
    statuses = [status for status, _, _ in result.responses]
    assert statuses and statuses[0] in (400, 501), statuses
    assert len(statuses) == 1
    assert [scope["path"] for scope in app.scopes if scope["path"] != "/after"] in ([], ["/"])
    assert app.complete_bodies == [b""]  # only /after's


# -- Upgrade asgidev does not perform ----------------------------------------------------------


@pytest.mark.parametrize(
    "upgrade",
    [
        # What `curl --http2 http://...` sends (RFC 9113 removed h2c upgrades; a server ignores them).
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n",
        # Upgrade: websocket without Connection: Upgrade is no handshake (RFC 6455 section 4.2.1).
        b"Upgrade: websocket\r\n",
        b"Connection: Upgrade\r\nUpgrade: TLS/1.0\r\n",
    ],
    ids=["h2c", "websocket-without-connection-upgrade", "tls-upgrade"],
)
async def test_upgrade_not_performed_is_an_ordinary_request(upgrade: bytes) -> None:
    app = RecordingApp()
    first = b"GET /first HTTP/1.1\r\n" + H + upgrade + b"\r\n"
    second = b"GET /second HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n"
    async with asgidev.serve(app, **SERVER_OPTIONS) as server:
        pipelined = await exchange(server.host, server.port, first + second)
        # The same two requests one after the other on a reused connection.
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(first)
            async with asyncio.timeout(EXCHANGE_DEADLINE_S):
                head = await reader.readuntil(b"\r\n\r\n")
                assert b"connection: close" not in head.lower()
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
                await reader.readexactly(length)
                writer.write(second)
                rest = await reader.read()
        finally:
            writer.close()
            await writer.wait_closed()
    assert [status for status, _, _ in pipelined.responses] == [200, 200]
    assert b"connection: close" not in pipelined.responses[0][1].get(b"connection", b"").lower()
    assert [status for status, _, _ in parse_responses(rest)] == [200]
    assert [scope["path"] for scope in app.scopes] == ["/first", "/second", "/first", "/second"]


# -- responses as REDbot's linter (httplint) sees them ----------------------------------------


async def linted_app(scope: Scope, receive: Receive, send: Send) -> None:
    """/<status>[/stream]: an HTML response with that status, streamed (chunked) or whole."""
    if scope["type"] != "http":
        return
    parts = scope["path"].strip("/").split("/")
    status = int(parts[0] or 200)
    page = b"<html><body>hi</body></html>" if status not in (204, 304) else b""
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/html; charset=utf-8")]})
    if parts[-1] == "stream":
        await send({"type": "http.response.body", "body": page[:10], "more_body": True})
        await send({"type": "http.response.body", "body": page[10:]})
    else:
        await send({"type": "http.response.body", "body": page})


def bad_notes(method: str, path: str, raw: bytes) -> list[str]:
    """httplint's BAD verdicts on one raw response to ``method path``."""
    from httplint import HttpRequestLinter, HttpResponseLinter
    from httplint.note import levels

    request = HttpRequestLinter()
    request.process_request_topline(method.encode(), b"http://localhost" + path.encode(), b"1.1")
    request.process_headers([(b"host", b"localhost")])
    request.finish_content(True)
    [(status, headers, body)] = parse_responses(raw, method)
    linter = HttpResponseLinter(_related=request)
    linter.is_head_response = method == "HEAD"
    linter.process_response_topline(b"1.1", str(status).encode(), b"")
    linter.process_headers(list(headers.items()))
    linter.feed_content(body)
    linter.finish_content(True)
    return [f"{type(note).__name__}: {note.summary}" for note in linter.notes if note.level is levels.BAD]


async def fetch_raw(host: str, port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        async with asyncio.timeout(EXCHANGE_DEADLINE_S):
            return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


@pytest.mark.parametrize("live_reload", [False, True], ids=["plain", "live-reload"])
@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("HEAD", "/"), ("GET", "/200/stream"), ("HEAD", "/200/stream"), ("GET", "/204"), ("GET", "/304"), ("GET", "/404")],
)
async def test_responses_pass_httplint(live_reload: bool, method: str, path: str) -> None:
    from asgidev.livereload.middleware import LiveReload

    app: Any = LiveReload(linted_app, generation="g") if live_reload else linted_app
    request = f"{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
    async with asgidev.serve(app, **SERVER_OPTIONS) as server:
        raw = await fetch_raw(server.host, server.port, request)
        if method == "HEAD":
            # RFC 9110 section 9.3.2: the headers a GET would get, framing included.
            raw_get = await fetch_raw(server.host, server.port, request.replace(b"HEAD", b"GET", 1))
            get_length = parse_responses(raw_get)[0][1].get(b"content-length")
            assert parse_responses(raw, "HEAD")[0][1].get(b"content-length") == get_length
    assert bad_notes(method, path, raw) == []
    if path in ("/204", "/304"):
        assert b"content-length" not in raw.lower()  # RFC 9110 section 8.6; a 304's would describe the cached page
