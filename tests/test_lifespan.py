"""Lifespan: startup/shutdown, state shared into requests, and Django-style rejection."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

import asgidev
from asgidev.errors import LifespanStartupError

pytestmark = pytest.mark.anyio


async def test_state_shared_and_shutdown_runs() -> None:
    events = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    scope["state"]["db"] = "connected"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = scope["state"]["db"].encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})

    async with asgidev.serve(app) as server, httpx.AsyncClient() as client:
        assert events == ["lifespan.startup"]
        assert (await client.get(server.url)).text == "connected"
    assert events == ["lifespan.startup", "lifespan.shutdown"]


async def test_app_rejecting_lifespan_is_quiet(caplog: pytest.LogCaptureFixture) -> None:
    async def django_like(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    caplog.set_level(logging.DEBUG, logger="asgidev")
    async with asgidev.serve(django_like) as server, httpx.AsyncClient() as client:
        assert (await client.get(server.url)).status_code == 204
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert "does not support the lifespan protocol" in caplog.text


async def test_startup_failure_raises_apps_exception() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        raise ConnectionRefusedError("database is down")

    with pytest.raises(ConnectionRefusedError, match="database is down"):
        async with asgidev.serve(app):
            pass


async def test_startup_failed_message() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no config"})

    with pytest.raises(LifespanStartupError, match="no config"):
        async with asgidev.serve(app):
            pass


async def test_failed_startup_is_not_reported_as_a_failed_shutdown(caplog: pytest.LogCaptureFixture) -> None:
    """Starlette's way to fail: ``lifespan.startup.failed``, then the exception raised; no lifespan shutdown follows."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
        raise ConnectionRefusedError("no database")

    caplog.set_level(logging.DEBUG, logger="asgidev")
    with pytest.raises(LifespanStartupError, match="no database"):
        async with asgidev.serve(app):
            pass
    assert "shutdown" not in caplog.text.lower()


async def test_lifespan_on_requires_support() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise ValueError("nope")

    with pytest.raises(ValueError, match="nope"):
        async with asgidev.serve(app, lifespan="on"):
            pass
