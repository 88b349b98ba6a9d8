"""Runtime errors (issue 15): an exception escaping the app gets its traceback as a page, problem+json or text.

Real frameworks (FastAPI, Starlette, Litestar) and a raw ASGI app run in real
``python -m asgidev`` processes; requests are real HTTP over loopback.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from asgidev.config import Config
from asgidev.editors import EDITOR_URLS, editor_link, link_template
from asgidev.errors import ConfigError
from asgidev.tracebacks.middleware import Audience
from asgidev.tracebacks.negotiation import Wanted, wanted_format
from asgidev.tracebacks.report import MAX_REPR_CHARS, build_report, safe_repr
from tests.server_process import ServerProcess

# The view every app runs: locals with markup, a repr that raises, a huge value; a chained exception with a note.
VIEW = """
class Evil:
    def __repr__(self):
        raise RuntimeError("no repr for you")


def failing_view():
    markup = "</script><script>alert('locals')</script><b>bold</b>"
    evil = Evil()
    huge = "x" * 100_000
    try:
        {}["missing-key"]
    except KeyError as exc:
        error = ValueError("bad <value> & </script>")
        error.add_note("note with <i>markup</i>")
        raise error from exc


def failing_group():
    group = ExceptionGroup("several things failed", [ValueError("first <one>"), TypeError("second")])
    group.add_note("group note")
    raise group
"""

APPS = {
    "fastapi_app": """
from fastapi import FastAPI
from views import failing_group, failing_view

app = FastAPI()


@app.get("/boom")
async def boom():
    failing_view()


@app.get("/group")
async def group():
    failing_group()


@app.get("/ok")
async def ok():
    return {"ok": True}
""",
    "starlette_app": """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from views import failing_group, failing_view


async def boom(request):
    failing_view()


async def group(request):
    failing_group()


async def ok(request):
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/boom", boom), Route("/group", group), Route("/ok", ok)])
""",
    "raw_app": """
from views import failing_group, failing_view


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/boom":
        failing_view()
    if scope["path"] == "/group":
        failing_group()
    if scope["path"] == "/sent-500":
        # A 500 the app sends itself and then returns: it goes out as it is.
        await send({"type": "http.response.start", "status": 500, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"my own 500"})
        return
    if scope["path"] == "/broken-stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        failing_view()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})
""",
    "starlette_debug": """
from starlette.applications import Starlette
from starlette.routing import Route


async def boom(request):
    raise ValueError("shown by Starlette")


app = Starlette(debug=True, routes=[Route("/boom", boom)])
""",
    "litestar_app": """
from litestar import Litestar, get
from views import failing_view


@get("/boom")
async def boom() -> None:
    failing_view()


app = Litestar([boom])
""",
    "litestar_debug": """
from litestar import Litestar, get


@get("/boom")
async def boom() -> None:
    raise ValueError("shown by Litestar")


app = Litestar([boom], debug=True)
""",
}

HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}  # what Chromium sends when navigating
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tracebacks")
    (directory / "views.py").write_text(VIEW)
    for name, text in APPS.items():
        (directory / f"{name}.py").write_text(textwrap.dedent(text))
    return directory


def start(project: Path, module: str, *options: str) -> ServerProcess:
    proc = ServerProcess.asgidev([f"{module}:app", "--port", "0", "--no-reload", *options], cwd=project)
    try:
        proc.wait_started()
    except BaseException:
        proc.stop()
        raise
    return proc


@pytest.fixture(scope="module", params=["fastapi_app", "starlette_app", "raw_app"])
def server(request: pytest.FixtureRequest, project: Path) -> Iterator[ServerProcess]:
    proc = start(project, request.param)
    yield proc
    proc.stop()


def test_html_page_shows_the_chain_notes_source_and_escaped_locals(server: ServerProcess, project: Path) -> None:
    response = httpx.get(server.url + "/boom", headers=HTML)
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert "<title>ValueError: bad &lt;value&gt; &amp; &lt;/script&gt;</title>" in page
    # The chain: the KeyError it was raised from, with the note escaped.
    assert "It was raised from" in page and "KeyError" in page and "missing-key" in page
    assert "note with &lt;i&gt;markup&lt;/i&gt;" in page
    # The user's frame: open, with its file:line, its source with the failing line marked, and its locals.
    views = str(project / "views.py")
    assert re.search(r'<details class="frame user" open>\s*<summary><span class="location"><span>' + re.escape(views) + r":16</span>", page)
    assert '<tr class="failing"><td class="number">16</td><td><pre>        raise error from exc</pre>' in page
    assert "&lt;/script&gt;&lt;script&gt;alert(&#x27;locals&#x27;)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<th>evil</th><td><pre>&lt;Evil instance at 0x" in page  # its __repr__ raised
    # Nothing from the app's data became markup.
    assert "<script>alert" not in page and "<b>bold" not in page and "<i>markup" not in page
    # The 100 000-character local is cut; library frames fold into closed groups.
    assert "x" * MAX_REPR_CHARS not in page
    assert len(page) < 200_000
    # The terminal still gets the traceback.
    server.wait_for_line(r"Exception in ASGI application \(GET /boom\)")


def test_json_clients_get_problem_json(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/boom", headers=JSON)
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    problem = response.json()
    assert problem["status"] == 500 and problem["title"] == "Internal Server Error"
    assert problem["detail"] == "ValueError: bad <value> & </script>"
    first, cause = problem["exceptions"]
    assert first["notes"] == ["note with <i>markup</i>"]
    assert cause == {**cause, "type": "KeyError", "relation": "It was raised from"}
    user_frames = [f for f in first["frames"] if f["is_user"]]
    assert user_frames[-1] == {**user_frames[-1], "line": 16, "function": "failing_view", "code": "raise error from exc"}
    assert "alert" not in json.dumps(problem)  # no local variables: short


def test_other_clients_get_plain_text(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/boom")
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    text = response.text
    assert text.startswith("500 Internal Server Error · GET /boom\n")
    assert "KeyError: 'missing-key'" in text and "The above exception was the direct cause" in text
    assert "ValueError: bad <value> & </script>\nnote with <i>markup</i>" in text
    assert "tracebacks/middleware.py" not in text  # asgidev's own frame, where it caught the exception


def test_an_exception_group_shows_every_member_and_its_notes(server: ServerProcess) -> None:
    page = httpx.get(server.url + "/group", headers=HTML).text
    assert "several things failed" in page and "group note" in page
    assert "Sub-exception 1 of 2" in page and "first &lt;one&gt;" in page
    assert "Sub-exception 2 of 2" in page and "TypeError" in page
    problem = httpx.get(server.url + "/group", headers=JSON).json()
    assert [member["type"] for member in problem["exceptions"][0]["exceptions"]] == ["ValueError", "TypeError"]


def test_library_frames_are_folded(project: Path) -> None:
    proc = start(project, "fastapi_app")
    try:
        page = httpx.get(proc.url + "/boom", headers=HTML).text
    finally:
        proc.stop()
    assert re.search(r'<details class="library-frames">\s*<summary>\d+ library frames</summary>\s*<details class="frame library">', page)
    assert "site-packages/starlette" in page


def test_a_successful_request_is_untouched(server: ServerProcess) -> None:
    response = httpx.get(server.url + "/ok", headers=HTML)
    assert response.status_code == 200
    assert "cache-control" not in response.headers


def test_a_raw_app_own_500_and_a_broken_stream_are_left_alone(project: Path) -> None:
    proc = start(project, "raw_app")
    try:
        own = httpx.get(proc.url + "/sent-500", headers=HTML)
        assert (own.status_code, own.text, own.headers["content-type"]) == (500, "my own 500", "text/plain")
        # The body was streaming when the app raised: the response cannot change, the connection closes.
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(proc.url + "/broken-stream", headers=HTML)
        proc.wait_for_line(r"Exception in ASGI application \(GET /broken-stream\)")
    finally:
        proc.stop()


def test_frameworks_own_error_pages_are_untouched(project: Path) -> None:
    starlette = start(project, "starlette_debug")
    try:
        page = httpx.get(starlette.url + "/boom", headers=HTML)
        assert page.status_code == 500
        assert "asgidev shows this page" not in page.text
        assert "shown by Starlette" in page.text and "cache-control" not in page.headers  # Starlette's debug page
    finally:
        starlette.stop()
    litestar = start(project, "litestar_debug")
    try:
        page = httpx.get(litestar.url + "/boom", headers=HTML)
        assert page.status_code == 500
        assert "shown by Litestar" in page.text and "asgidev shows this page" not in page.text
    finally:
        litestar.stop()


def test_litestar_bare_500_is_replaced_too(project: Path) -> None:
    """Litestar answers its exceptions itself and never re-raises: its after_exception hook tells asgidev."""
    litestar = start(project, "litestar_app")
    try:
        page = httpx.get(litestar.url + "/boom", headers=HTML)
        assert (page.status_code, page.headers["cache-control"]) == (500, "no-store")
        assert "<title>ValueError: bad &lt;value&gt; &amp; &lt;/script&gt;</title>" in page.text
        assert "It was raised from" in page.text and "note with &lt;i&gt;markup&lt;/i&gt;" in page.text
        assert "&lt;/script&gt;&lt;script&gt;alert(" in page.text and "<script>alert" not in page.text
        problem = httpx.get(litestar.url + "/boom", headers=JSON).json()
        assert problem["detail"] == "ValueError: bad <value> & </script>"
        assert httpx.get(litestar.url + "/boom").text.startswith("500 Internal Server Error · GET /boom\n")
        assert httpx.get(litestar.url + "/missing", headers=HTML).status_code == 404  # Litestar's own 404 stays
    finally:
        litestar.stop()


def non_loopback_address() -> str | None:
    """An address of this machine other than loopback, to reach a 0.0.0.0 server as another host would."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel just picks a source address
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_no_traceback_when_bound_to_a_network_address(project: Path) -> None:
    proc = start(project, "raw_app", "--host", "0.0.0.0")
    try:
        port = proc.url.rsplit(":", 1)[1]
        hosts = ["127.0.0.1", *filter(None, [non_loopback_address()])]
        for host in hosts:
            response = httpx.get(f"http://{host}:{port}/boom", headers=HTML)
            assert (response.status_code, response.text) == (500, "Internal Server Error\n"), host
    finally:
        proc.stop()
    exposed = start(project, "raw_app", "--host", "0.0.0.0", "--expose-tracebacks")
    try:
        port = exposed.url.rsplit(":", 1)[1]
        assert "failing_view" in httpx.get(f"http://127.0.0.1:{port}/boom", headers=HTML).text
        exposed.wait_for_line(r"Tracebacks, with source and local variables, are shown to every client \(--expose-tracebacks\)\.")
    finally:
        exposed.stop()


def test_no_traceback_for_a_foreign_host_name_on_loopback(project: Path) -> None:
    """A tunnel or proxy on this machine arrives from loopback, but with its public name."""
    proc = start(project, "raw_app", "--allowed-host", "tunnel.example")
    try:
        response = httpx.get(proc.url + "/boom", headers={**HTML, "Host": "tunnel.example"})
        assert (response.status_code, response.text) == (500, "Internal Server Error\n")
        assert "failing_view" in httpx.get(proc.url + "/boom", headers={**HTML, "Host": "localhost"}).text
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("client", "host", "is_exposed", "is_loopback_bind", "expected"),
    [
        (("127.0.0.1", 5000), b"localhost:8000", False, True, True),
        (("::1", 5000), b"[::1]:8000", False, True, True),
        (("192.0.2.7", 5000), b"localhost:8000", False, True, False),
        (("127.0.0.1", 5000), b"localhost:8000", False, False, False),
        (None, b"localhost:8000", False, True, False),
        (("192.0.2.7", 5000), b"app.example", True, False, True),
    ],
)
def test_audience(client: tuple[str, int] | None, host: bytes, is_exposed: bool, is_loopback_bind: bool, expected: bool) -> None:
    audience = Audience(is_exposed=is_exposed, is_loopback_bind=is_loopback_bind)
    assert audience.may_see({"type": "http", "client": client, "headers": [(b"host", host)]}) is expected


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", Wanted.HTML),
        (b"application/json", Wanted.JSON),
        (b"application/problem+json", Wanted.JSON),
        (b"application/vnd.api+json", Wanted.JSON),
        (b"application/json, text/html;q=0.5", Wanted.JSON),
        (b"text/html;q=0", Wanted.TEXT),
        (b"*/*", Wanted.TEXT),
        (None, Wanted.TEXT),
    ],
)
def test_negotiation(accept: bytes | None, expected: Wanted) -> None:
    assert wanted_format([(b"accept", accept)] if accept is not None else []) is expected


def test_reports_are_bounded_and_never_raise() -> None:
    class Loud:
        def __repr__(self) -> str:
            return "y" * 1_000_000

    class Broken:
        def __repr__(self) -> str:
            raise LookupError("no")

    class Hostile(Broken):
        @property  # type: ignore[misc]
        def __class__(self) -> type:  # even reprlib's fallback, which reads __class__, raises
            raise LookupError("no")

    assert len(safe_repr(Loud())) == MAX_REPR_CHARS
    assert safe_repr(Broken()).startswith("<Broken instance at 0x")
    assert re.fullmatch(r"<repr of \S+\.Hostile failed: LookupError>", safe_repr(Hostile()))

    def recurse(n: int) -> None:
        if n == 0:
            raise RuntimeError("deep")
        recurse(n - 1)

    try:
        recurse(200)
    except RuntimeError as exc:
        (report,) = build_report(exc)
    assert len(report.frames) == 40 and report.omitted_frames == 162  # this test frame and the 201 of recurse(), less the 40 shown

    # A cycle in the chain (an exception that is its own context) ends the chain.
    looped = ValueError("loop")
    looped.__context__ = TypeError("other")
    looped.__context__.__context__ = looped
    assert [e.type_name for e in build_report(looped)] == ["ValueError", "TypeError"]


# -- editor links --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("editor", "expected"),
    [
        ("vscode", "vscode://file/home/me/my%20app/views.py:16"),
        ("cursor", "cursor://file/home/me/my%20app/views.py:16"),
        ("pycharm", "pycharm://open?file=/home/me/my%20app/views.py&line=16"),
        ("sublime", "subl://open?url=file:///home/me/my%20app/views.py&line=16"),
        ("idea://open?file={file}&line={line}", "idea://open?file=/home/me/my%20app/views.py&line=16"),
    ],
)
def test_editor_links(editor: str, expected: str) -> None:
    Config(editor=editor)  # accepted
    template = link_template(editor, {})
    assert template is not None
    assert editor_link(template, "/home/me/my app/views.py", 16) == expected


def test_editor_default_comes_from_visual_or_editor() -> None:
    assert link_template(None, {"EDITOR": "code --wait"}) == EDITOR_URLS["vscode"]
    assert link_template(None, {"VISUAL": "/usr/local/bin/subl -w", "EDITOR": "vim"}) == EDITOR_URLS["sublime"]
    assert link_template(None, {"EDITOR": "vim"}) is None
    assert link_template("cursor", {"EDITOR": "code"}) == EDITOR_URLS["cursor"]


@pytest.mark.parametrize("value", ["emacs", "https://example.test/{file}", "javascript:alert('{file}{line}')", "{file}:{line}"])
def test_bad_editor_values_are_one_clear_error(value: str) -> None:
    with pytest.raises(ConfigError, match="--editor"):
        Config(editor=value)


def test_user_frames_link_to_the_editor(project: Path) -> None:
    proc = start(project, "raw_app", "--editor", "vscode")
    try:
        page = httpx.get(proc.url + "/boom", headers=HTML).text
        views = str(project / "views.py")
        assert f'<a href="vscode://file{views}:16" title="Open in your editor">{views}:16</a>' in page
        assert f'<a href="vscode://file{project / "raw_app.py"}:' in page
    finally:
        proc.stop()
    # ASGIDEV_EDITOR is --editor: a bad value is one line and exit code 1.
    result = subprocess.run(
        [sys.executable, "-m", "asgidev", "raw_app:app", "--port", "0", "--no-reload"],
        cwd=project,
        env={**os.environ, "ASGIDEV_EDITOR": "{file}"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "is neither an editor asgidev knows nor a URL template" in result.stderr
    assert "Traceback" not in result.stderr


def test_djangos_debug_page_is_untouched(django_project: Path, start_server: Any) -> None:
    """Django answers its own exceptions (its technical 500 page with DEBUG on): none reaches asgidev."""
    server = start_server(django_project, "-m", "asgidev", "mysite.asgi:application", "--port", "0", "--no-reload")
    page = httpx.get(server.url + "/polls/boom/", headers=HTML)
    assert page.status_code == 500
    assert "ZeroDivisionError" in page.text and "asgidev shows this page" not in page.text
