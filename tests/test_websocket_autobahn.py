"""The Autobahn WebSocket test suite against a real asgidev server, through kosoku (a native port of its client).

Groups 1 to 10 (framing, pings, reserved bits, opcodes, fragmentation, UTF-8,
closing, limits, message sizes) run in the regular suite: about 300 cases in
10 to 30 s on a loaded two-core machine. Groups 12 and 13 (permessage-deflate,
about 200 cases of 1000 messages each) take minutes and are marked ``slow``:
``python -m pytest -m slow tests/test_websocket_autobahn.py``. kosoku gives each
case 20 s; on a loaded machine the cases with 128 KiB messages (above all those
sent in 256-byte fragments, 12.x.15 to 12.x.18) exceed it: parsing 400,000
frames through wsproto is what costs (docs/websockets.md, "Autobahn").
"""

from __future__ import annotations

from typing import Any

import kosoku
import pytest

import asgidev

pytestmark = pytest.mark.anyio

# Verdicts that conform: OK, or a SHOULD not followed (NON-STRICT), or behaviour the spec leaves open.
CONFORMING = {"OK", "NON-STRICT", "INFORMATIONAL"}
CONFORMING_CLOSE = {"OK", "INFORMATIONAL"}
# Autobahn has no group 8 or 11.
REGULAR_GROUPS = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*"]
# Cases kosoku runs at once: the server is one process on one loop either way.
CONCURRENCY = 4


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What Autobahn's fuzzing client expects of a server: every message echoed as it came."""
    if scope["type"] != "websocket":
        return
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def run_cases(cases: list[str]) -> list[Any]:
    async with asgidev.serve(echo, lifespan="off", access_log=False) as server:
        try:
            return list(await kosoku.run_fuzzingclient(server.ws_url, cases=cases, concurrency=CONCURRENCY))
        except kosoku.FailureError as exc:
            return exc.results


def assert_conforming(results: list[Any], expected_at_least: int) -> None:
    assert len(results) >= expected_at_least
    bad = [
        f"{r.case_id}: {r.behavior.value}/{r.behavior_close.value} ({r.result})"
        for r in results
        if r.behavior.value not in CONFORMING or r.behavior_close.value not in CONFORMING_CLOSE
    ]
    assert bad == [], "\n".join(bad)


@pytest.mark.timeout(300)
async def test_autobahn_groups_1_to_10() -> None:
    assert_conforming(await run_cases(REGULAR_GROUPS), expected_at_least=300)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("group", ["12.*", "13.*"])
async def test_autobahn_permessage_deflate(group: str) -> None:
    assert_conforming(await run_cases([group]), expected_at_least=90)
