"""Django under the reload supervisor: template edits show up, data writes do not reload, settings errors recover."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.django_helpers import ServerFactory
from tests.waiting import wait_until


def _imports(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


supervisor_available = _imports("asgidev.supervisor.supervisor")
pytestmark = pytest.mark.skipif(
    not supervisor_available, reason="needs the reload supervisor (asgidev.supervisor.supervisor), not landed yet"
)

RELOAD_TIMEOUT_S = 20.0
# Between two looks at the page while waiting for a reload to finish.
RETRY_INTERVAL_S = 0.05


def wait_for_page(url: str, is_expected: Callable[[httpx.Response], bool], timeout: float = RELOAD_TIMEOUT_S) -> httpx.Response:
    """GET ``url`` until the response satisfies ``is_expected``; fail with the last one after ``timeout``."""
    last: list[httpx.Response] = []
    with httpx.Client(timeout=10) as client:

        def expected_page() -> httpx.Response | None:
            last[:] = [client.get(url)]
            return last[0] if is_expected(last[0]) else None

        return wait_until(
            expected_page,
            timeout,
            interval=RETRY_INTERVAL_S,
            retry_on=(httpx.TransportError,),
            what=f"{url} to become as expected",
            detail=lambda: f"last: {last[0].text[:2000]}" if last else "no response",
        )


@pytest.mark.parametrize(
    "command",
    [("-m", "asgidev", "mysite.asgi:application", "--port", "0"), ("manage.py", "runserver", "127.0.0.1:0")],
    ids=["asgidev", "runserver"],
)
def test_template_edits_and_new_templates_show_up(django_project: Path, start_server: ServerFactory, command: tuple[str, ...]) -> None:
    server = start_server(django_project, *command)
    url = server.url + "/polls/"
    assert "Polls index" in wait_for_page(url, lambda r: r.status_code == 200).text
    # What the site writes is not code: a session saved to db.sqlite3 and an
    # upload under MEDIA_ROOT must not reload (checked in the log below).
    assert httpx.get(server.url + "/polls/visits/").text == "visits: 1"
    (django_project / "media").mkdir()
    (django_project / "media" / "upload.py").write_text("# a user upload, not code\n")
    templates = django_project / "polls" / "templates" / "polls"
    (templates / "extra.html").write_text("<p>brand new template</p>\n")
    index = templates / "index.html"
    index.write_text(index.read_text().replace("<h1>Polls index</h1>", '<h1>Polls edited</h1>{% include "polls/extra.html" %}'))
    page = wait_for_page(url, lambda r: "Polls edited" in r.text)
    assert "brand new template" in page.text
    reloads = re.findall(r"Changed: (.*)\. (?:Reloading|Applying in place)\.", server.output)
    assert reloads, server.output
    assert not any("sqlite" in r or "media" in r for r in reloads), reloads
    if command[1] == "asgidev":
        # Template edits reach a running Django worker by resetting its template loaders: no restart.
        assert "Applied in place" in server.output, server.output


def test_settings_error_shows_error_page_and_recovers(django_project: Path, start_server: ServerFactory) -> None:
    server = start_server(django_project, "-m", "asgidev", "--port", "0")
    url = server.url + "/polls/"
    wait_for_page(url, lambda r: r.status_code == 200)
    settings = django_project / "mysite" / "settings.py"
    good = settings.read_text()
    settings.write_text(good + '\nraise RuntimeError("settings are broken on purpose")\n')
    broken = wait_for_page(url, lambda r: r.status_code == 500)
    assert "settings are broken on purpose" in broken.text
    settings.write_text(good)
    assert "Which server?" in wait_for_page(url, lambda r: r.status_code == 200).text
