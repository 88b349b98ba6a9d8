"""The ``asgidev_live_server`` fixture, used as a Django project's own test suite would use it.

Run by tests/test_django_live_server.py with ``python -m pytest -p asgidev.testing.pytest_plugin``
in a copy of the test project, once per kind of test database (``LIVE_SERVER_DB``: ``memory``, Django's
default for SQLite, or ``file``). Not named ``test_*.py``, so the repository's own run never collects it:
Django settings are process-wide.

The database set-up is plain Django (no pytest-django): ``django.setup()``, the test environment
(which turns ``DEBUG`` off) and ``setup_databases``, once per session; every test starts on empty
tables and flushes what it committed, as a ``TransactionTestCase`` does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import django
import httpx
import pytest

from asgidev.testing.embedded import RunningServer

DATABASE_KIND = os.environ["LIVE_SERVER_DB"]
STYLESHEET = Path(__file__).parent.parent / "polls" / "static" / "polls" / "style.css"


@pytest.fixture(scope="session")
def django_test_databases() -> Iterator[None]:
    from django.core.management import call_command
    from django.test.utils import setup_databases, setup_test_environment, teardown_databases, teardown_test_environment

    django.setup()
    setup_test_environment(debug=False)
    databases = setup_databases(verbosity=0, interactive=False)
    # Empty tables for every test: the polls migration seeds a question.
    call_command("flush", interactive=False, verbosity=0)
    yield
    teardown_databases(databases, verbosity=0)
    teardown_test_environment()


@pytest.fixture
def committed_db(django_test_databases: None) -> Iterator[None]:
    """Rows written in the test are committed at once (autocommit) and flushed afterwards."""
    from django.core.management import call_command

    yield
    call_command("flush", interactive=False, verbosity=0)


def test_database_is_the_expected_kind(committed_db: None) -> None:
    from django.db import connection

    assert connection.is_in_memory_db() is (DATABASE_KIND == "memory")
    assert connection.settings_dict["NAME"] != str(Path.cwd() / "db.sqlite3")


def test_page_lists_a_row_created_in_the_test(committed_db: None, asgidev_live_server: RunningServer) -> None:
    from polls.models import Question

    question = Question.objects.create(question_text="Served live?")
    response = httpx.get(f"{asgidev_live_server.url}/polls/")
    assert response.status_code == 200
    assert "Polls index" in response.text and "Served live?" in response.text
    assert httpx.get(f"{asgidev_live_server.url}/polls/{question.id}/").status_code == 200


def test_static_file_served_with_debug_off(committed_db: None, asgidev_live_server: RunningServer) -> None:
    from django.conf import settings

    assert settings.DEBUG is False
    response = httpx.get(f"{asgidev_live_server.url}/static/polls/style.css")
    assert response.status_code == 200
    assert response.content == STYLESHEET.read_bytes()


def test_media_file_served(committed_db: None, asgidev_live_server: RunningServer) -> None:
    from django.conf import settings

    media_root = Path(settings.MEDIA_ROOT)
    (media_root / "uploads").mkdir(parents=True, exist_ok=True)
    (media_root / "uploads" / "note.txt").write_bytes(b"uploaded by a test")
    assert httpx.get(f"{asgidev_live_server.url}/media/uploads/note.txt").content == b"uploaded by a test"
    assert httpx.get(f"{asgidev_live_server.url}/media/uploads/missing.txt").status_code == 404
    # An encoded ../ reaches Django as is: nothing outside MEDIA_ROOT is served.
    assert httpx.get(f"{asgidev_live_server.url}/media/..%2F..%2Fmanage.py").status_code == 404


def test_async_view_counts_rows(committed_db: None, asgidev_live_server: RunningServer) -> None:
    from polls.models import Question

    Question.objects.bulk_create([Question(question_text="one"), Question(question_text="two")])
    response = httpx.get(f"{asgidev_live_server.url}/polls/async/")
    assert response.text == "async view: 2 question(s)"


def test_rows_written_by_the_server_are_visible_to_the_test(committed_db: None, asgidev_live_server: RunningServer) -> None:
    from django.contrib.sessions.models import Session

    with httpx.Client(base_url=asgidev_live_server.url) as client:
        assert client.get("/polls/visits/").text == "visits: 1"
        assert client.get("/polls/visits/").text == "visits: 2"
    assert Session.objects.count() == 1


def test_flush_left_no_rows(committed_db: None, asgidev_live_server: RunningServer) -> None:
    response = httpx.get(f"{asgidev_live_server.url}/polls/async/")
    assert response.text == "async view: 0 question(s)"


def test_uncommitted_rows_reach_the_server_only_on_in_memory_sqlite(committed_db: None, asgidev_live_server: RunningServer) -> None:
    from django.db import transaction
    from polls.models import Question

    with transaction.atomic():
        Question.objects.create(question_text="not committed yet")
        response = httpx.get(f"{asgidev_live_server.url}/polls/async/")
        transaction.set_rollback(True)
    # In memory, the server shares the test's connection, so it reads inside the test's transaction;
    # any other database gives the server its own connection, which sees committed rows only.
    assert response.text == ("async view: 1 question(s)" if DATABASE_KIND == "memory" else "async view: 0 question(s)")


def test_host_outside_allowed_hosts_is_added(committed_db: None) -> None:
    from django.test.utils import override_settings

    from asgidev.django.testing import live_server

    with override_settings(ALLOWED_HOSTS=[]), live_server() as server:
        assert httpx.get(f"{server.url}/polls/").status_code == 200
