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
