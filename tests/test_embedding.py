"""The embedding API and pytest plugin, used exactly as a user's tests would."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import asgidev
from tests import apps

pytestmark = pytest.mark.anyio


async def test_server_attributes() -> None:
    async with asgidev.serve(apps.hello) as server:
        assert server.host == "127.0.0.1"
        assert server.port > 0
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.ws_url == f"ws://127.0.0.1:{server.port}"


async def test_two_servers_at_once() -> None:
    async with asgidev.serve(apps.hello) as one, asgidev.serve(apps.scope_echo) as two, httpx.AsyncClient() as client:
        assert one.port != two.port
        assert (await client.get(one.url)).text == "Hello, world!"
        assert (await client.get(two.url + "/x")).json()["path"] == "/x"


async def test_host_process_signals_and_logging_untouched() -> None:
    before_int = signal.getsignal(signal.SIGINT)
    before_term = signal.getsignal(signal.SIGTERM)
    root = logging.getLogger()
    before_handlers, before_level = list(root.handlers), root.level
    async with asgidev.serve(apps.hello) as server, httpx.AsyncClient() as client:
        await client.get(server.url)
    assert signal.getsignal(signal.SIGINT) is before_int
    assert signal.getsignal(signal.SIGTERM) is before_term
    assert root.handlers == before_handlers and root.level == before_level


async def test_exit_closes_open_streams_within_timeout() -> None:
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient() as client:
        async with asgidev.serve(apps.sse, timeout_graceful_shutdown=0.3) as server:
            response = await client.send(client.build_request("GET", server.url), stream=True)
            lines = response.aiter_lines()
            assert (await anext(lines)).startswith("data: 0")
            started = loop.time()
        # The stream was still open: leaving the block closed it after the grace period.
        assert loop.time() - started < 3
        with pytest.raises(httpx.HTTPError):
            async for _ in lines:
                pass
        await response.aclose()


async def test_unknown_option_is_an_error() -> None:
    from asgidev.errors import ConfigError

    with pytest.raises(ConfigError, match="Unknown option"):
        async with asgidev.serve(apps.hello, colour="yes"):
            pass


async def test_asgi2_app_is_wrapped() -> None:
    class ASGI2:
        def __init__(self, scope: dict[str, Any]) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            if self.scope["type"] != "http":
                return
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"asgi2"})

    async with asgidev.serve(ASGI2) as server, httpx.AsyncClient() as client:  # type: ignore[arg-type]
        assert (await client.get(server.url)).text == "asgi2"


def test_serve_in_thread_sync() -> None:
    with asgidev.serve_in_thread(apps.hello) as server:
        assert httpx.get(server.url).text == "Hello, world!"
    assert threading.active_count() >= 1


def test_serve_in_thread_reraises_app_exception() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            raise LookupError("from the app")

    with pytest.raises(LookupError, match="from the app"), asgidev.serve_in_thread(app) as server:
        assert httpx.get(server.url).status_code == 500


def test_serve_in_thread_startup_failure() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise OSError("cache unreachable")

    with pytest.raises(OSError, match="cache unreachable"), asgidev.serve_in_thread(app):
        pass


def test_pytest_fixture_sync(asgidev_server: Callable[..., asgidev.RunningServer]) -> None:
    first = asgidev_server(apps.hello)
    second = asgidev_server(apps.echo)
    assert httpx.get(first.url).text == "Hello, world!"
    assert httpx.post(second.url, content=b"ping").text == "ping"


async def test_pytest_fixture_async(asgidev_server: Callable[..., asgidev.RunningServer]) -> None:
    server = asgidev_server(apps.hello)
    async with httpx.AsyncClient() as client:
        assert (await client.get(server.url)).text == "Hello, world!"


def test_plugin_is_cheap_to_import() -> None:
    import subprocess
    import sys

    code = "import sys, asgidev.testing.pytest_plugin; print(sorted(m for m in ('asgidev.server.server', 'h11', 'asyncio') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "asgidev.server.server" not in out and "h11" not in out
