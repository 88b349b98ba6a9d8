"""Safe by default: the host guard, TLS, proxy headers, escaping."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

import asgidev
from asgidev.builtin_apps import broken_code_app
from tests import apps

pytestmark = pytest.mark.anyio


async def raw_request(host: str, port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(data)
    response = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    await writer.wait_closed()
    return response


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1", "127.0.0.1:1234", "[::1]:8000", "app.localhost", "LOCALHOST."]
)
async def test_loopback_host_names_are_served(host: str) -> None:
    async with asgidev.serve(apps.hello) as server, httpx.AsyncClient() as client:
        response = await client.get(server.url, headers={"Host": host})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "192.168.1.10",
        "localhost.evil.example",
        # Everything after "]" counts: an IPv6 literal is followed by a port or nothing.
        "[::1]evil.example",
        "[::1].evil.example",
        "[::1]:8000evil.example",
        "[::1]:",
    ],
)
async def test_foreign_host_refused_before_the_app(host: str, caplog: pytest.LogCaptureFixture) -> None:
    called = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope["type"])
        await apps.hello(scope, receive, send)

    async with asgidev.serve(app) as server, httpx.AsyncClient() as client:
        response = await client.get(server.url, headers={"Host": host})
    assert response.status_code == 400
    assert "DNS-rebinding" in response.text and "--allowed-host" in response.text
    assert len(response.text.strip().splitlines()) == 1
    assert "http" not in called
    assert "DNS-rebinding" in caplog.text


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (b"http://evil.example/x", 400),
        (b"HTTP://EVIL.EXAMPLE:8000/x", 400),
        (b"http://127.0.0.1@evil.example/x", 400),
        (b"http://localhost:8000/x?q=1", 200),
        (b"http://user@127.0.0.1/x", 200),
    ],
)
async def test_absolute_form_target_is_judged_by_its_authority(target: bytes, status: int) -> None:
    """RFC 9112 section 3.2.2: the target's authority replaces Host, for the guard and for the app."""
    seen: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            seen.append(scope)
        await apps.hello(scope, receive, send)

    async with asgidev.serve(app) as server:
        response = await raw_request(
            server.host, server.port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
    assert response.startswith(b"HTTP/1.1 %d " % status)
    if status == 200:
        assert seen[0]["path"] == "/x"
        host = target.split(b"://")[1].split(b"/")[0].rpartition(b"@")[2]
        assert [v for n, v in seen[0]["headers"] if n == b"host"] == [host]
    else:
        assert seen == []


async def test_http10_without_host_is_served() -> None:
    async with asgidev.serve(apps.hello) as server:
        response = await raw_request(server.host, server.port, b"GET / HTTP/1.0\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 200 OK")


async def test_allowed_host_wildcards_and_star() -> None:
    async with asgidev.serve(apps.hello, allowed_hosts=("*.example.test", "phone.lan")) as server, httpx.AsyncClient() as client:
        assert (await client.get(server.url, headers={"Host": "a.example.test:8000"})).status_code == 200
        assert (await client.get(server.url, headers={"Host": "phone.lan"})).status_code == 200
        assert (await client.get(server.url, headers={"Host": "other.test"})).status_code == 400
    async with asgidev.serve(apps.hello, allowed_hosts=("*",)) as server, httpx.AsyncClient() as client:
        assert (await client.get(server.url, headers={"Host": "anything.example"})).status_code == 200


async def test_guard_off_when_not_bound_to_loopback() -> None:
    async with asgidev.serve(apps.hello, host="0.0.0.0") as server, httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/", headers={"Host": "phone.lan"})
    assert response.status_code == 200


async def test_websocket_upgrade_is_guarded_too() -> None:
    async with asgidev.serve(apps.hello) as server:
        response = await raw_request(
            server.host,
            server.port,
            b"GET / HTTP/1.1\r\nHost: evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
    assert response.startswith(b"HTTP/1.1 400 ")


async def test_https_with_generated_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cryptography")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    async with asgidev.serve(apps.scope_echo, https=True) as server:
        assert server.url.startswith("https://")
        cert = tmp_path / "asgidev" / "localhost-cert.pem"
        key = tmp_path / "asgidev" / "localhost-key.pem"
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        context = ssl.create_default_context(cafile=str(cert.with_name("localhost-ca.pem")))
        async with httpx.AsyncClient(verify=context) as client:
            response = await client.get(f"https://localhost:{server.port}/")
    assert response.json()["scheme"] == "https"
    first = cert.read_bytes()
    async with asgidev.serve(apps.hello, https=True):
        pass
    assert cert.read_bytes() == first  # created once, then reused


def foreign_leaf(tmp_path: Path, signing_key_path: Path, issuer_pem: bytes, *, name: str = "www.example-bank.com") -> tuple[Path, Path]:
    """A certificate for another site, signed with ``signing_key_path`` as if by ``issuer_pem``'s subject: (chain, key)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    signing_key: Any = serialization.load_pem_private_key(signing_key_path.read_bytes(), password=None)
    issuer = x509.load_pem_x509_certificate(issuer_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(signing_key, hashes.SHA256())
    )
    chain, key_file = tmp_path / f"{name}-chain.pem", tmp_path / f"{name}-key.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + issuer_pem)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return chain, key_file


async def tls_handshake(port: int, context: ssl.SSLContext, server_hostname: str) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname=server_hostname)
    writer.close()
    await writer.wait_closed()


async def test_dev_certificate_cannot_vouch_for_other_sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whoever reads the key file on disk cannot make a machine that trusts the CA accept another site."""
    pytest.importorskip("cryptography")
    from cryptography import x509

    from asgidev.tls import dev_certificate

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    cert, key = dev_certificate()
    ca = cert.with_name("localhost-ca.pem")
    leaf_pem = cert.read_bytes().split(b"-----END CERTIFICATE-----")[0] + b"-----END CERTIFICATE-----\n"
    leaf = x509.load_pem_x509_certificate(leaf_pem)
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert x509.load_pem_x509_certificate(ca.read_bytes()).extensions.get_extension_for_class(x509.NameConstraints).critical
    # The only private key on disk is the leaf's: the CA's was dropped after signing.
    assert [p.name for p in sorted(cert.parent.iterdir()) if b"PRIVATE KEY" in p.read_bytes()] == ["localhost-key.pem"]
    trusting = ssl.create_default_context(cafile=str(ca))
    async with asgidev.serve(apps.hello, ssl_certfile=str(cert), ssl_keyfile=str(key)) as server:
        await tls_handshake(server.port, trusting, "localhost")  # the real one verifies
    # A leaf for another site signed with that key, chained to the leaf (CA:FALSE) or claiming the CA as issuer.
    for issuer_pem in (leaf_pem, ca.read_bytes()):
        chain, chain_key = foreign_leaf(tmp_path, key, issuer_pem)
        async with asgidev.serve(apps.hello, ssl_certfile=str(chain), ssl_keyfile=str(chain_key)) as server:
            with pytest.raises(ssl.SSLCertVerificationError):
                await tls_handshake(server.port, trusting, "www.example-bank.com")


async def test_old_unconstrained_dev_certificate_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("cryptography")
    from asgidev.tls import dev_certificate

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cert, _ = dev_certificate()
    old = cert.read_bytes()
    cert.with_name("localhost-ca.pem").unlink()  # what earlier versions left: a certificate and key, no CA
    with caplog.at_level(logging.WARNING):
        dev_certificate()
    assert cert.read_bytes() != old and cert.with_name("localhost-ca.pem").exists()
    assert [r.getMessage() for r in caplog.records if "could vouch for any site" in r.getMessage()] != []


async def test_https_with_given_certificate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("cryptography")
    from asgidev.tls import dev_certificate

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cert, key = dev_certificate()
    context = ssl.create_default_context(cafile=str(cert))
    async with (
        asgidev.serve(apps.hello, ssl_certfile=str(cert), ssl_keyfile=str(key)) as server,
        httpx.AsyncClient(verify=context) as client,
    ):
        assert (await client.get(f"https://127.0.0.1:{server.port}/")).text == "Hello, world!"


async def test_bad_certificate_is_a_clear_error(tmp_path: Path) -> None:
    from asgidev.errors import ConfigError

    bogus = tmp_path / "cert.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ConfigError, match="Cannot load the TLS certificate"):
        async with asgidev.serve(apps.hello, ssl_certfile=str(bogus)):
            pass


async def test_tls_client_on_plain_port_gets_a_clear_log_line(caplog: pytest.LogCaptureFixture) -> None:
    client_hello = bytes.fromhex("16030100a5010000a10303") + os.urandom(32) + b"\x00" * 40
    async with asgidev.serve(apps.hello) as server:
        response = await raw_request(server.host, server.port, client_hello)
        async with httpx.AsyncClient() as client:
            assert (await client.get(server.url)).status_code == 200
    assert response == b""
    assert "this server speaks HTTP, not HTTPS" in caplog.text


async def test_proxy_headers_only_from_trusted_peers() -> None:
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    async with asgidev.serve(apps.scope_echo, proxy_headers=True) as server, httpx.AsyncClient() as client:
        scope = (await client.get(server.url, headers=headers)).json()
    assert scope["client"][0] == "203.0.113.7"
    assert scope["scheme"] == "https"
    async with (
        asgidev.serve(apps.scope_echo, proxy_headers=True, forwarded_allow_ips=("10.0.0.1",)) as server,
        httpx.AsyncClient() as client,
    ):
        scope = (await client.get(server.url, headers=headers)).json()
    assert scope["client"][0] == "127.0.0.1"
    assert scope["scheme"] == "http"
    async with asgidev.serve(apps.scope_echo, proxy_headers=True) as server, httpx.AsyncClient() as client:
        scope = (await client.get(server.url, headers={"Forwarded": 'for="[2001:db8::1]:4711";proto=https'})).json()
    assert scope["client"][0] == "2001:db8::1"
    async with asgidev.serve(apps.scope_echo) as server, httpx.AsyncClient() as client:
        scope = (await client.get(server.url, headers=headers)).json()
    assert scope["client"][0] == "127.0.0.1"  # off by default


async def test_error_page_escapes_everything() -> None:
    evil = "<script>alert(1)</script>"
    app = broken_code_app(evil, evil, f"Traceback: {evil}", evil)
    async with asgidev.serve(app) as server, httpx.AsyncClient() as client:
        response = await client.get(server.url, headers={"Accept": "text/html"})
    assert response.status_code == 500
    assert "<script>" not in response.text
    assert "&lt;script&gt;" in response.text


async def test_rejection_message_is_not_markup() -> None:
    async with asgidev.serve(apps.hello) as server, httpx.AsyncClient() as client:
        response = await client.get(server.url, headers={"Host": "<b>x</b>"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")


async def test_access_log_does_not_break_on_hostile_paths(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="asgidev.access")
    async with asgidev.serve(apps.hello) as server:
        response = await raw_request(
            server.host, server.port, b"GET /%0d%0aInjected:%20x?<script> HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
    assert response.startswith(b"HTTP/1.1 200")
    assert "\nInjected" not in caplog.text
