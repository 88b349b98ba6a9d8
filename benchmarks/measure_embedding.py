"""In-process start: ``async with asgidev.serve(app)`` entered to first 200, beside uvicorn's ``Server.serve``.

Each library runs in its own fresh interpreter (``python -m
benchmarks.measure_embedding --child NAME``) so the first start includes
importing the server ("cold") and later starts do not ("warm"). Spawning a
subprocess per test is the alternative being compared; its figure is the
startup measurement's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks import probe

EMBEDDERS = ("asgidev", "uvicorn")
# Per start; far above either server's in-process start.
START_DEADLINE_S = 10.0


async def _first_200(port: int) -> None:
    deadline = time.perf_counter() + START_DEADLINE_S
    while time.perf_counter() < deadline:
        try:
            reader, writer = await asyncio.open_connection(probe.HOST, port)
        except OSError:
            await asyncio.sleep(0.001)
            continue
        writer.write(f"GET / HTTP/1.1\r\nHost: {probe.HOST}\r\nConnection: close\r\n\r\n".encode())
        reply = await reader.read()
        writer.close()
        await writer.wait_closed()
        if reply.startswith(b"HTTP/1.1 200"):
            return
    raise TimeoutError("no 200 in time")


async def _start_asgidev() -> float:
    began = time.perf_counter()
    import asgidev
    from benchmarks.apps.raw import app

    async with asgidev.serve(app, port=0) as server:
        await _first_200(server.port)
        return time.perf_counter() - began


async def _start_uvicorn() -> float:
    began = time.perf_counter()
    import uvicorn

    from benchmarks.apps.raw import app

    sock = socket.socket()
    sock.bind((probe.HOST, 0))
    config = uvicorn.Config(app, http="h11", loop="asyncio", access_log=False, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await _first_200(sock.getsockname()[1])
        return time.perf_counter() - began
    finally:
        server.should_exit = True
        await task
        sock.close()


def _child(name: str, starts: int) -> None:
    starter: Callable[[], object] = _start_asgidev if name == "asgidev" else _start_uvicorn

    async def main() -> list[float]:
        return [await starter() for _ in range(starts)]  # type: ignore[misc]

    print(json.dumps(asyncio.run(main())))


def run_embedding(starts: int) -> tuple[list[dict[str, object]], list[str]]:
    """Cold and warm in-process start of each embedder, each in a fresh interpreter."""
    samples: list[dict[str, object]] = []
    problems: list[str] = []
    repo_root = Path(__file__).resolve().parent.parent
    for name in EMBEDDERS:
        argv = [sys.executable, "-m", "benchmarks.measure_embedding", "--child", name, "--starts", str(starts)]
        done = subprocess.run(
            argv, capture_output=True, text=True, cwd=repo_root, timeout=120, env={**os.environ, "PYTHONPATH": str(repo_root)}
        )
        if done.returncode != 0:
            problems.append(f"embedding {name}: {done.stderr.strip()[-300:]}")
            continue
        times = [t * 1e3 for t in json.loads(done.stdout.strip().splitlines()[-1])]
        warm = times[1:] or times
        samples.append(
            {
                "embedder": name,
                "cold_ms": times[0],
                "warm_median_ms": statistics.median(warm),
                "warm_min_ms": min(warm),
                "warm_max_ms": max(warm),
            }
        )
    return samples, problems


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=EMBEDDERS, required=True)
    parser.add_argument("--starts", type=int, default=5)
    arguments = parser.parse_args()
    _child(arguments.child, arguments.starts)
