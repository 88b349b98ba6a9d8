"""The Autobahn WebSocket test suite against a real asgidev server, through kosoku (a native port of its client).

Groups 1 to 10 (framing, pings, reserved bits, opcodes, fragmentation, UTF-8,
closing, limits, message sizes) run in the regular suite: about 300 cases in
10 to 30 s on a loaded two-core machine, against the embedding API's server.
Groups 12 and 13 (permessage-deflate, 216 cases of 1000 messages each) take
about 12 minutes and are marked ``slow``:
``python -m pytest -m slow tests/test_websocket_autobahn.py``. kosoku gives each
case 20 s, and a case is a ping-pong: the client sends a message only once the
last echo came back, so the client's time and the server's add up. These run
the server as its own process (``asgidev tests.apps:websocket_echo``), one case
at a time, so the server and kosoku each have a core, as they would with a
browser (docs/websockets.md, "Autobahn").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kosoku
import pytest

import asgidev
from tests.apps import websocket_echo
from tests.server_process import ServerProcess

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.anyio

# Verdicts that conform: OK, or a SHOULD not followed (NON-STRICT), or behaviour the spec leaves open.
CONFORMING = {"OK", "NON-STRICT", "INFORMATIONAL"}
CONFORMING_CLOSE = {"OK", "INFORMATIONAL"}
# Autobahn has no group 8 or 11.
REGULAR_GROUPS = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*"]
# Cases kosoku runs at once: the server is one process on one loop either way.
CONCURRENCY = 4


async def run_cases(url: str, cases: list[str], concurrency: int) -> list[Any]:
    try:
        return list(await kosoku.run_fuzzingclient(url, cases=cases, concurrency=concurrency))
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
    async with asgidev.serve(websocket_echo, lifespan="off", access_log=False) as server:
        results = await run_cases(server.ws_url, REGULAR_GROUPS, CONCURRENCY)
    assert_conforming(results, expected_at_least=300)


@pytest.mark.slow
@pytest.mark.timeout(3600)
# kosoku's deflate cases open their test data files and never close them.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("group", ["12.*", "13.*"])
async def test_autobahn_permessage_deflate(group: str) -> None:
    args = ["tests.apps:websocket_echo", "--port", "0", "--no-reload", "--lifespan", "off", "--no-access-log"]
    server = ServerProcess.asgidev(args, cwd=REPO_ROOT)
    try:
        url = server.wait_started().replace("http://", "ws://", 1)
        results = await run_cases(url, [group], concurrency=1)
    finally:
        server.stop()
    assert_conforming(results, expected_at_least=90)
