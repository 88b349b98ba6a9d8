"""Browser live reload: the endpoint and injection over real sockets, and a real headless Chromium."""

from __future__ import annotations

import gzip
import json
import socket
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

import asgidev
from asgidev._types import Receive, Scope, Send
from asgidev.livereload.middleware import LiveReload
from tests.browser import Browser
from tests.server_process import ServerProcess, save_like_an_editor

PAGE = b"<html><head><title>t</title></head><body><h1>Hi</h1></body></html>"


def html_app(body: bytes = PAGE, headers: tuple[tuple[bytes, bytes], ...] = (), *, stream: bool = False) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        # Capitalised names, as Django sends them: matching must not depend on case.
        sent = [(b"Content-Type", b"text/html; charset=utf-8"), (b"Content-Length", str(len(body)).encode()), *headers]
        await send({"type": "http.response.start", "status": 200, "headers": sent})
        if stream:
            await send({"type": "http.response.body", "body": body[:10], "more_body": True})
            await send({"type": "http.response.body", "body": body[10:]})
        else:
            await send({"type": "http.response.body", "body": body})

    return app


def served(app: Any) -> Any:
    return asgidev.serve_in_thread(LiveReload(app, generation="gen-1"))


def test_script_injected_before_body_end_with_content_length_fixed() -> None:
    with served(html_app()) as server:
        response = httpx.get(server.url)
    tag = '<script src="/__asgidev__/live-reload.js" data-generation="gen-1"></script>'
    assert response.text.endswith(tag + "</body></html>")
    assert int(response.headers["content-length"]) == len(response.content)


@pytest.mark.parametrize(
    ("app", "why"),
    [
        (html_app(gzip.compress(PAGE), headers=((b"content-encoding", b"gzip"),)), "compressed"),
        (html_app(stream=True), "streamed"),
        (html_app(headers=((b"content-security-policy", b"default-src 'none'"),)), "csp"),
    ],
)
def test_not_injected(app: Any, why: str, caplog: pytest.LogCaptureFixture) -> None:
    with served(app) as server:
        response = httpx.get(server.url)
        response2 = httpx.get(server.url)
    assert b"live-reload" not in response.content
    assert response.content == response2.content
    if why == "csp":
        assert caplog.text.count("Content-Security-Policy") == 1  # logged once, not per request


def test_csp_allowing_self_gets_the_script() -> None:
    with served(html_app(headers=((b"content-security-policy", b"script-src 'self'"),))) as server:
        assert b"live-reload.js" in httpx.get(server.url).content


def test_non_html_untouched() -> None:
    async def text_app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"</body>"})

    with served(text_app) as server:
        assert httpx.get(server.url).content == b"</body>"


@pytest.mark.parametrize("app_sends_body", [True, False], ids=["app-sends-body", "app-sends-no-body"])
def test_head_reports_the_content_length_get_sends(app_sends_body: bool) -> None:
    """RFC 9110 section 9.3.2: a HEAD gets the GET's headers, and the GET's body has the tag."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", b"text/html"), (b"content-length", str(len(PAGE)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": PAGE if app_sends_body or scope["method"] == "GET" else b""})

    with served(app) as server:
        get = httpx.get(server.url)
        head = httpx.head(server.url)
    assert head.headers["content-length"] == get.headers["content-length"] == str(len(get.content))
    assert len(get.content) > len(PAGE)


@pytest.mark.parametrize("status", [204, 304])
def test_bodiless_status_gets_no_body_and_no_content_length(status: int) -> None:
    """RFC 9110 section 8.6: no Content-Length on a 204; a 304's would describe the cached page, not a tag."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b""})

    with served(app) as server, socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status)
    assert b"content-length" not in head.lower()
    assert body == b""


def test_endpoint_is_answered_by_the_server_not_the_app() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            seen.append(scope["path"])
        await html_app()(scope, receive, send)

    with served(app) as server:
        script = httpx.get(server.url + "/__asgidev__/live-reload.js")
        missing = httpx.get(server.url + "/__asgidev__/other")
        with connect(server.ws_url + "/__asgidev__/live-reload", open_timeout=5) as ws:
            hello = json.loads(ws.recv(timeout=5))
    assert script.status_code == 200 and "WebSocket" in script.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert missing.status_code == 404
    assert hello == {"type": "hello", "generation": "gen-1"}
    assert seen == []


@pytest.mark.parametrize(
    ("origin", "is_accepted"),
    [
        (None, True),  # not a browser
        ("own", True),
        ("http://localhost:3000", True),  # a loopback page (a front-end dev server)
        ("http://phone.lan:8000", True),  # --allowed-host
        ("http://evil.example", False),
        ("https://127.0.0.1.evil.example", False),
        ("null", False),  # sandboxed frames and file: pages
        ("http://[::1]evil.example", False),
    ],
)
def test_socket_answers_only_this_servers_pages(origin: str | None, is_accepted: bool) -> None:
    """Browsers let any site open a WebSocket anywhere: the Origin decides, before the upgrade."""
    from websockets.exceptions import InvalidStatus

    with asgidev.serve_in_thread(LiveReload(html_app(), generation="g", allowed_hosts=("phone.lan",))) as server:
        url = server.ws_url + "/__asgidev__/live-reload"
        sent = f"http://127.0.0.1:{server.port}" if origin == "own" else origin
        headers = {"Origin": sent} if sent is not None else {}
        if is_accepted:
            with connect(url, open_timeout=5, additional_headers=headers) as ws:
                assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        else:
            with pytest.raises(InvalidStatus) as refused, connect(url, open_timeout=5, additional_headers=headers):
                pass
            assert refused.value.response.status_code == 403


def test_endpoint_refuses_foreign_hosts_on_a_network_bind() -> None:
    with asgidev.serve_in_thread(LiveReload(html_app(), generation="g"), host="0.0.0.0") as server:
        url = f"http://127.0.0.1:{server.port}/__asgidev__/live-reload.js"
        assert httpx.get(url).status_code == 200
        assert httpx.get(url, headers={"Host": "192.168.1.20:8000"}).status_code == 404


# -- the real thing: a browser, the reload supervisor, file edits -------------------------------

APP = textwrap.dedent(
    """
    import pathlib

    VERSION = {version!r}
    HERE = pathlib.Path(__file__).parent

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        if scope["path"] == "/site.css":
            body, kind = (HERE / "site.css").read_bytes(), b"text/css"
        else:
            page = '<html><head><link rel="stylesheet" href="/site.css"></head><body><h1 id="v">' + VERSION + "</h1></body></html>"
            body, kind = page.encode(), b"text/html; charset=utf-8"
        await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-type", kind), (b"cache-control", b"no-store")]}})
        await send({{"type": "http.response.body", "body": body}})
    """
)


def write_app(directory: Path, version: str) -> None:
    save_like_an_editor(directory / "app.py", APP.format(version=version))


def test_browser_page_follows_edits(browser: Browser, tmp_path: Path) -> None:
    write_app(tmp_path, "v1")
    (tmp_path / "site.css").write_text("h1 { color: rgb(255, 0, 0); }\n")
    proc = ServerProcess.asgidev(["app:app", "--port", "0", "--live-reload", "--timeout-graceful-shutdown", "1"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        browser.navigate(url + "/")
        browser.wait_for("document.getElementById('v') && document.getElementById('v').textContent", "v1")
        browser.wait_for("window.__asgidevLiveReload === true", True)

        # A code edit: the page reloads itself and shows the new code.
        write_app(tmp_path, "v2")
        browser.wait_for("document.getElementById('v') && document.getElementById('v').textContent", "v2")

        # A stylesheet edit: the style changes without a navigation.
        browser.evaluate("window.__marker = 42")
        browser.wait_for("getComputedStyle(document.getElementById('v')).color", "rgb(255, 0, 0)")
        (tmp_path / "site.css").write_text("h1 { color: rgb(0, 0, 255); }\n")
        browser.wait_for("getComputedStyle(document.getElementById('v')).color", "rgb(0, 0, 255)")
        assert browser.evaluate("window.__marker") == 42

        # Broken code: the page shows the error page, then recovers after the fix.
        (tmp_path / "app.py").write_text("def broken(:\n")
        browser.wait_for("document.body.innerText.includes('SyntaxError')", True)
        write_app(tmp_path, "v3")
        browser.wait_for("document.getElementById('v') && document.getElementById('v').textContent", "v3")
    finally:
        proc.stop()


def test_browser_django_template_edit_and_static_stylesheet(browser: Browser, django_project: Path, start_server: Any) -> None:
    """Django: a template edit reloads the page without a worker restart; CSS from the finders swaps in place."""
    server = start_server(django_project, "-m", "asgidev", "mysite.asgi:application", "--port", "0", "--live-reload")
    heading = "document.querySelector('h1') && document.querySelector('h1').textContent"
    browser.navigate(server.url + "/polls/")
    browser.wait_for(heading, "Polls index")
    browser.wait_for("window.__asgidevLiveReload === true", True)

    index = django_project / "polls" / "templates" / "polls" / "index.html"
    index.write_text(index.read_text().replace("<h1>Polls index</h1>", "<h1>Polls live</h1>"))
    browser.wait_for(heading, "Polls live")
    server.wait_for_line(r"Applied in place in \d+ ms")

    browser.evaluate("window.__marker = 8")
    (django_project / "polls" / "static" / "polls" / "style.css").write_text("h1 { color: rgb(0, 128, 0); }\n")
    browser.wait_for("getComputedStyle(document.querySelector('h1')).color", "rgb(0, 128, 0)")
    assert browser.evaluate("window.__marker") == 8  # swapped in place: no navigation
