"""The traceback overlay (issue 15): tracebacks pushed over the live-reload channel, in real tabs and in headless Chromium."""

from __future__ import annotations

import contextlib
import json
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from websockets.sync.client import ClientConnection, connect

from tests.browser import Browser
from tests.server_process import ServerProcess, save_like_an_editor

RAW_APP = """
import asyncio

calls = {"flaky": 0}
released = asyncio.Event()


def fail():
    markup = "</script><script>alert('locals')</script>"
    raise ValueError("broke <b>here</b>")


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/api":
        fail()
    if path == "/slow-500":
        # A 500 the app sends, then keeps working past the hold (HOLD_500_S) until the test has it, then raises.
        await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"my own 500"})
        await asyncio.wait_for(released.wait(), 30)
        fail()
    if path == "/release":
        released.set()
    if path.startswith("/broken-stream") or path == "/flaky":
        calls["flaky"] += path == "/flaky"
        if path != "/flaky" or calls["flaky"] == 1:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"half", "more_body": True})
            fail()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    directory = tmp_path_factory.mktemp("overlay")
    (directory / "raw_app.py").write_text(RAW_APP)
    proc = ServerProcess.asgidev(["raw_app:app", "--port", "0", "--no-reload", "--live-reload"], cwd=directory)
    try:
        proc.wait_started()
        yield proc
    finally:
        proc.stop()


class Tab:
    """A page's live-reload connection, as the script opens it."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        assert self.next()["type"] == "hello"

    def next(self) -> dict[str, Any]:
        message: dict[str, Any] = json.loads(self.ws.recv(timeout=10))
        return message


@pytest.fixture
def tabs(server: ServerProcess) -> Iterator[Any]:
    with contextlib.ExitStack() as stack:

        def open_tab(page: str) -> Tab:
            url = server.url.replace("http://", "ws://") + "/__asgidev__/live-reload?page=" + quote(page, safe="")
            return Tab(stack.enter_context(connect(url)))

        yield open_tab


def referer(server: ServerProcess, page: str) -> dict[str, str]:
    return {"Referer": server.url + page}


def test_a_broken_stream_goes_to_the_tab_that_asked_only(server: ServerProcess, tabs: Any) -> None:
    tab_a, tab_b = tabs("/a"), tabs("/b")
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url + "/broken-stream", headers=referer(server, "/b"))
    error = tab_b.next()
    assert (error["type"], error["key"]) == ("error", "GET /broken-stream")
    html = error["html"]
    assert "broke &lt;b&gt;here&lt;/b&gt;" in html and "&lt;/script&gt;&lt;script&gt;alert(" in html
    assert "<script>alert" not in html and "<b>here" not in html
    # Without a Referer the tab is unknown: every tab gets it, and tab A's first message is this one, not B's.
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url + "/broken-stream/again")
    assert tab_a.next()["key"] == tab_b.next()["key"] == "GET /broken-stream/again"


def test_a_fetch_that_got_json_shows_the_overlay_and_a_success_clears_it(server: ServerProcess, tabs: Any) -> None:
    tab = tabs("/dashboard?tab=2")
    problem = httpx.get(server.url + "/api", headers={"Accept": "application/json", **referer(server, "/dashboard?tab=2")})
    assert problem.headers["content-type"] == "application/problem+json"
    error = tab.next()
    assert (error["type"], error["key"]) == ("error", "GET /api")
    # curl and scripts (no Referer) read the traceback in the response: no overlay for them.
    assert httpx.get(server.url + "/api").status_code == 500
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(server.url + "/flaky", headers=referer(server, "/dashboard?tab=2"))
    assert tab.next()["key"] == "GET /flaky"  # not a second "GET /api"
    assert httpx.get(server.url + "/flaky").text == "ok"
    assert tab.next() == {"type": "error-cleared", "key": "GET /flaky"}


def test_a_500_held_past_the_hold_goes_out_and_a_later_exception_is_an_overlay(server: ServerProcess, tabs: Any) -> None:
    tab = tabs("/orders")
    response = httpx.get(server.url + "/slow-500", headers={"Accept": "text/html", **referer(server, "/orders")})
    assert (response.status_code, response.text) == (500, "my own 500")
    # The app is still running (it waits for /release): only now does it raise.
    assert httpx.get(server.url + "/release").text == "ok"
    assert tab.next()["key"] == "GET /slow-500"


def test_an_overlay_waits_for_its_tab_to_connect(server: ServerProcess, tabs: Any) -> None:
    httpx.get(server.url + "/api", headers={"Accept": "application/json", **referer(server, "/late")})
    late = tabs("/late")
    assert late.next()["key"] == "GET /api"


def test_no_overlay_for_a_tab_that_may_not_see_tracebacks(tmp_path: Path) -> None:
    """A tab reached through a tunnel (loopback peer, public host name) gets reloads, never tracebacks."""
    (tmp_path / "raw_app.py").write_text(RAW_APP)
    proc = ServerProcess.asgidev(
        ["raw_app:app", "--port", "0", "--no-reload", "--live-reload", "--allowed-host", "tunnel.example"], cwd=tmp_path
    )
    try:
        port = int(proc.wait_started().rsplit(":", 1)[1])
        path = "/__asgidev__/live-reload?page=/a"
        with (
            connect(f"ws://127.0.0.1:{port}{path}") as local_ws,
            connect(f"ws://tunnel.example:{port}{path}", sock=socket.create_connection(("127.0.0.1", port))) as tunnel_ws,
        ):
            local, tunnel = Tab(local_ws), Tab(tunnel_ws)
            with pytest.raises(httpx.RemoteProtocolError):
                httpx.get(proc.url + "/broken-stream")
            assert local.next()["key"] == "GET /broken-stream"
            # Both queues were filled in the same step: had the tunnel's been, its message would be there now.
            with pytest.raises(TimeoutError):
                tunnel.ws.recv(timeout=0.5)
    finally:
        proc.stop()


# -- headless Chromium -----------------------------------------------------------------

PAGE_APP = """
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI()

PAGE = '''<html><head><title>items</title></head><body><h1 id="v">loading</h1>
<script>
fetch("/api/items").then((r) => (r.ok ? r.json() : Promise.reject(r.status))).then(
  (data) => { document.getElementById("v").textContent = data.name; },
  () => { document.getElementById("v").textContent = "failed"; },
);
</script></body></html>'''


@app.get("/", response_class=HTMLResponse)
async def index():
    return PAGE


@app.get("/api/items")
async def items():
    name = "<img src=x onerror=window.__pwned=1></script>"
    {body}
"""


def write_page_app(directory: Path, body: str) -> None:
    save_like_an_editor(directory / "main.py", textwrap.dedent(PAGE_APP).replace("{body}", body))


OVERLAY_TITLE = (
    "(() => { const o = document.querySelector('asgidev-overlay'); return o ? o.shadowRoot.querySelector('h1').textContent : null; })()"
)


def test_browser_overlay_shows_the_fetch_error_and_goes_after_the_fix(browser: Browser, tmp_path: Path) -> None:
    write_page_app(tmp_path, 'raise ValueError(f"no items for {name}")')
    proc = ServerProcess.asgidev(["main:app", "--port", "0", "--live-reload", "--timeout-graceful-shutdown", "1"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        browser.navigate(url + "/")
        browser.wait_for("document.getElementById('v').textContent", "failed")
        # FastAPI's middleware answered the fetch with its 500; the page shows the traceback over itself.
        browser.wait_for(OVERLAY_TITLE, "ValueError: no items for <img src=x onerror=window.__pwned=1></script>")
        assert browser.evaluate("window.__pwned === undefined") is True  # shown as text, never run
        where = "document.querySelector('asgidev-overlay').shadowRoot.querySelector('.where').textContent"
        assert "main.py:" in browser.evaluate(where)

        # Save the fix: the page reloads itself, the overlay is gone, the data is there.
        write_page_app(tmp_path, 'return {"name": "fixed"}')
        browser.wait_for("document.getElementById('v') && document.getElementById('v').textContent", "fixed")
        assert browser.evaluate("document.querySelector('asgidev-overlay') === null") is True
    finally:
        proc.stop()
