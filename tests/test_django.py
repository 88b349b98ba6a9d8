"""A real Django project served by real asgidev processes: views, forms, static files, discovery, checks."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest

from tests.django_helpers import ServerFactory, asgidev_args, copy_project, project_env
from tests.server_process import ServerProcess

APP = "mysite.asgi:application"
STYLE_CSS = "/static/polls/style.css"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, migrated_project_template: Path) -> Iterator[ServerProcess]:
    """One server for the read-mostly tests of this module: ``asgidev mysite.asgi:application``."""
    project = tmp_path_factory.mktemp("site") / "project"
    shutil.copytree(migrated_project_template, project)
    server = ServerProcess(asgidev_args(APP), project, project_env())
    try:
        server.wait_started()
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(site: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=10) as client:
        yield client


def test_banner_shows_django_and_lifespan_is_quiet(site: ServerProcess) -> None:
    # The system checks run once the server serves, so a start (or a reload) never waits for them.
    site.wait_for_line("System check identified no issues")
    before_banner, after_banner = site.output.split("Starting ASGI server")
    assert "System check identified" in after_banner
    startup = before_banner
    assert re.search(r"Django version [56]\.\d+\.\d+, using settings 'mysite.settings'", startup)
    assert "Static files: served at /static/" in startup
    assert "unapplied migration" not in site.output
    # Django rejects the lifespan scope; that must not be reported as an error.
    assert "ERROR" not in startup
    assert "Traceback" not in startup
    assert "lifespan" not in startup.lower()


def test_sync_and_async_views(client: httpx.Client) -> None:
    index = client.get("/polls/")
    assert index.status_code == 200
    assert "Which server?" in index.text
    assert client.get("/polls/async/").text == "async view: 1 question(s)"


def test_vote_form_needs_csrf_and_changes_the_database(client: httpx.Client, site: ServerProcess) -> None:
    form = client.get("/polls/1/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    choice = re.search(r'value="(\d+)">\s*<label for="choice\d+">asgidev<', form.text)
    assert token and choice, form.text
    refused = httpx.post(site.url + "/polls/1/vote/", data={"choice": choice.group(1)})
    assert refused.status_code == 403
    assert "CSRF" in refused.text
    voted = client.post("/polls/1/vote/", data={"choice": choice.group(1), "csrfmiddlewaretoken": token.group(1)})
    assert voted.status_code == 302
    assert voted.headers["location"] == "/polls/1/results/"
    assert "asgidev: 1 vote<" in client.get("/polls/1/results/").text


def test_session_persists_between_requests(client: httpx.Client) -> None:
    assert client.get("/polls/visits/").text == "visits: 1"
    assert client.get("/polls/visits/").text == "visits: 2"


def test_static_files_come_from_the_finders(client: httpx.Client) -> None:
    own = client.get(STYLE_CSS)
    assert own.status_code == 200
    assert "polls test stylesheet" in own.text
    assert client.get("/static/admin/css/base.css").status_code == 200


def test_admin_login_page(client: httpx.Client) -> None:
    admin = client.get("/admin/")
    assert admin.status_code == 302
    assert admin.headers["location"] == "/admin/login/?next=/admin/"
    login = client.get("/admin/login/")
    assert login.status_code == 200
    assert "Django administration" in login.text
    assert "csrfmiddlewaretoken" in login.text


def test_404_500_and_allowed_hosts(client: httpx.Client) -> None:
    missing = client.get("/nowhere/")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    boom = client.get("/polls/boom/")
    assert boom.status_code == 500
    assert "ZeroDivisionError" in boom.text  # DEBUG's technical page
    # *.localhost passes asgidev's DNS-rebinding guard; Django's ALLOWED_HOSTS refuses it.
    refused = client.get("/polls/", headers={"Host": "app.localhost"})
    assert refused.status_code == 400
    assert "DisallowedHost" in refused.text


def test_streaming_response_arrives_incrementally(client: httpx.Client, site: ServerProcess) -> None:
    # The view sends "first", then waits for /release/: the first line can only
    # arrive if the server sends chunks as the app produces them.
    with client.stream("GET", "/polls/stream/") as response:
        lines = response.iter_lines()
        assert next(lines) == "first"
        assert httpx.get(site.url + "/polls/release/").text == "released"
        assert list(lines) == ["second"]


@pytest.mark.anyio
async def test_slow_async_views_run_concurrently(site: ServerProcess) -> None:
    count, each_s = 20, 0.5
    statuses: list[int] = []

    async def fetch(client: httpx.AsyncClient) -> None:
        statuses.append((await client.get(f"/polls/slow/?s={each_s}")).status_code)

    began = time.monotonic()
    async with httpx.AsyncClient(base_url=site.url, timeout=10) as client, anyio.create_task_group() as tasks:
        for _ in range(count):
            tasks.start_soon(fetch, client)
    elapsed = time.monotonic() - began
    assert statuses == [200] * count
    assert elapsed < each_s * 3, f"{count} concurrent {each_s}s views took {elapsed:.2f}s"


def test_bare_asgidev_discovers_the_project(django_project: Path, start_server: ServerFactory) -> None:
    server = start_server(django_project, *asgidev_args())
    assert "serving mysite.asgi:application" in server.output
    assert "settings 'mysite.settings' from manage.py, app from the project's mysite/asgi.py" in server.output
    assert httpx.get(server.url + "/polls/").status_code == 200


def test_channels_router_picked_from_asgi_application(django_project: Path, start_server: ServerFactory) -> None:
    server = start_server(django_project, *asgidev_args(), MYSITE_ASGI_APPLICATION="mysite.routing.application")
    assert "serving mysite.routing:application" in server.output
    assert "app from ASGI_APPLICATION = 'mysite.routing.application'" in server.output
    page = httpx.get(server.url + "/polls/")
    assert page.status_code == 200
    assert "Which server?" in page.text
    assert httpx.get(server.url + STYLE_CSS).status_code == 200


def test_outside_a_project_the_welcome_page_stays(tmp_path: Path, start_server: ServerFactory) -> None:
    server = start_server(tmp_path, *asgidev_args())
    assert "welcome page" in server.output
    assert "Django" not in server.output


@pytest.mark.parametrize(
    ("args", "debug", "status"),
    [(("--nostatic",), "1", 404), ((), "0", 404), (("--insecure",), "0", 200)],
    ids=["nostatic", "debug-off", "insecure"],
)
def test_static_serving_follows_runserver_rules(
    django_project: Path, start_server: ServerFactory, args: tuple[str, ...], debug: str, status: int
) -> None:
    server = start_server(django_project, *asgidev_args(APP, *args), MYSITE_DEBUG=debug)
    assert httpx.get(server.url + STYLE_CSS).status_code == status


def test_check_errors_are_printed_and_serving_continues(django_project: Path, start_server: ServerFactory) -> None:
    server = start_server(django_project, *asgidev_args(APP), MYSITE_CHECK_ERROR="1")
    # Serving first, checks after: the site answers, and the result follows the banner.
    assert httpx.get(server.url + "/polls/").status_code == 200
    server.wait_for_line("polls.E001")
    assert server.output.index("polls.E001") > server.output.index("Starting ASGI server")


def test_skip_checks(tmp_path: Path, start_server: ServerFactory) -> None:
    project = copy_project(tmp_path / "project")  # never migrated: the migrations warning comes after the checks
    server = start_server(project, *asgidev_args(APP, "--skip-checks"), MYSITE_CHECK_ERROR="1")
    server.wait_for_line(r"You have \d+ unapplied migration\(s\)")
    assert "polls.E001" not in server.output


def test_unapplied_migrations_are_a_warning(tmp_path: Path, start_server: ServerFactory) -> None:
    project = copy_project(tmp_path / "project")  # never migrated
    server = start_server(project, *asgidev_args(APP))
    server.wait_for_line(r"You have \d+ unapplied migration\(s\)")
    server.wait_for_line(r"Run 'python manage\.py migrate' to apply them\.")
    assert httpx.get(server.url + "/polls/async/").status_code == 500  # no tables yet; still serving
