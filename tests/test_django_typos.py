"""A typo in a Django project's views.py or urls.py (issue 14): the error page naming the file, healed by the next save."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.django_helpers import ServerFactory
from tests.server_process import save_like_an_editor


@pytest.mark.parametrize(("name", "typo"), [("polls/views.py", "def broken(:\n"), ("mysite/urls.py", "urlpatterns = [\n")])
def test_a_typo_in_views_or_urls_shows_the_error_page_then_heals(
    django_project: Path, start_server: ServerFactory, name: str, typo: str
) -> None:
    server = start_server(django_project, "-m", "asgidev", "--port", "0", "--live-reload")
    assert httpx.get(server.url + "/polls/").status_code == 200
    path = django_project / name
    original = path.read_text()
    save_like_an_editor(path, original + typo)
    server.wait_for_line(r"Reload failed")
    page = httpx.get(server.url + "/polls/", headers={"Accept": "text/html"})
    assert page.status_code == 500
    assert page.headers["content-type"].startswith("text/html")
    assert "SyntaxError" in page.text and Path(name).name in page.text and "line" in page.text
    assert "live-reload" in page.text or "EventSource" in page.text  # the page comes back by itself after the fix
    plain = httpx.get(server.url + "/polls/")
    assert "SyntaxError" in plain.text and len(plain.content) > 22
    assert "system checks crashed" not in server.output
    save_like_an_editor(path, original)
    server.wait_for_line(r"Reloaded in", count=1)
    assert httpx.get(server.url + "/polls/").status_code == 200
