"""--server-timing: the app's and the server's time on each response, off by default, loopback-only unless asked."""

from __future__ import annotations

import asyncio
import logging
import re

import httpx
import pytest

import asgidev
from asgidev._types import Receive, Scope, Send
from asgidev.config import Config
from asgidev.errors import ConfigError

APP_DELAY_S = 0.05
TIMING = re.compile(r'^app;dur=(?P<app>\d+\.\d{3});desc="ASGI app", server;dur=(?P<server>\d+\.\d{3});desc="asgidev"$')


async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Takes APP_DELAY_S before answering, and streams its body in two parts."""
    if scope["type"] != "http":
        return
    await asyncio.sleep(APP_DELAY_S)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"server-timing", b"db;dur=1.5")]})
    await send({"type": "http.response.body", "body": b"one ", "more_body": True})
    await send({"type": "http.response.body", "body": b"two"})


def test_off_by_default() -> None:
    with asgidev.serve_in_thread(slow_app) as server:
        response = httpx.get(server.url)
    assert response.headers.get_list("server-timing") == ["db;dur=1.5"]


def test_loopback_mode_times_app_and_server() -> None:
    with asgidev.serve_in_thread(slow_app, server_timing="loopback") as server, httpx.Client() as client:
        responses = [client.get(server.url) for _ in range(3)]  # a new connection, then keep-alive
    for response in responses:
        assert response.text == "one two"
        app_header, ours = response.headers.get_list("server-timing")
        assert app_header == "db;dur=1.5"  # the app's own metrics are kept
        match = TIMING.match(ours)
        assert match, ours
        assert float(match["app"]) >= APP_DELAY_S * 1000
        # The server's share of a small GET is well under the app's sleep, even on a loaded machine.
        assert 0 < float(match["server"]) < float(match["app"])


@pytest.mark.parametrize(("mode", "is_sent"), [("loopback", False), ("always", True)])
def test_network_bind_only_when_asked(mode: str, is_sent: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="asgidev.server.timing")
    with asgidev.serve_in_thread(slow_app, host="0.0.0.0", server_timing=mode) as server:
        response = httpx.get(f"http://127.0.0.1:{server.port}/")
    ours = [value for value in response.headers.get_list("server-timing") if value.startswith("app;")]
    assert bool(ours) is is_sent
    assert ("Server-Timing is off" in caplog.text) is not is_sent


def test_unknown_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Use one of: off, loopback, always"):
        Config(server_timing="on")  # type: ignore[arg-type]
