"""pytest plugin (entry point ``pytest11``): fixtures that serve an ASGI app on a real socket.

Cheap to import: asgidev's server is only imported when a fixture is used.

``asgidev_server`` is a factory usable from sync and async tests alike::

    def test_home(asgidev_server):
        server = asgidev_server(app)
        assert httpx.get(server.url).status_code == 200

Each server runs on its own event loop in a background thread (so it also
serves while a sync test blocks) and is stopped when the test ends; the
app's exceptions are re-raised then. In async tests that want the server on
their own loop, use ``async with asgidev.serve(app) as server`` directly.

``asgidev_live_server`` is the Django project under test, served like
pytest-django's ``live_server`` (see ``asgidev.django.testing``)::

    def test_home(transactional_db, asgidev_live_server):
        assert httpx.get(asgidev_live_server.url + "/").status_code == 200
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from asgidev.testing.embedded import RunningServer


@pytest.fixture
def asgidev_server() -> Iterator[Callable[..., RunningServer]]:
    """Factory fixture: ``asgidev_server(app, **options)`` returns a running server.

    Options are those of ``asgidev.serve`` (the CLI's, by field name).
    """
    from asgidev.testing.embedded import serve_in_thread

    with contextlib.ExitStack() as stack:

        def start(app: Any, **options: Any) -> RunningServer:
            return stack.enter_context(serve_in_thread(app, **options))

        yield start


@pytest.fixture
def asgidev_live_server() -> Iterator[RunningServer]:
    """The Django project under test, served over ASGI on a thread for this test (``.url``, ``.host``, ``.port``).

    Needs Django set up and the test databases created before it starts:
    request your database fixture first (with pytest-django, ``transactional_db``,
    so the rows a test writes are committed and visible to the server).
    Static files are served through Django's finders, whatever ``DEBUG`` is.
    """
    from asgidev.errors import ConfigError

    try:
        from asgidev.django.testing import live_server
    except ImportError as exc:
        pytest.fail(f"asgidev_live_server needs Django: {exc}", pytrace=False)
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(live_server())
        except ConfigError as exc:
            pytest.fail(f"asgidev_live_server: {exc}", pytrace=False)
        yield server
