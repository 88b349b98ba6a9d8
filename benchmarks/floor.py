"""The app's own floor: each workload's app driven in-process, no server, no sockets.

A minimal ASGI driver calls the app with the scope a server would build, a
``receive`` that hands over the request body (then waits for the response
to end, as a server's does, and says ``http.disconnect``), and a ``send``
that only counts. The CPU time per request it costs is what the app (and
the event loop running it) needs whatever server runs it. A server's CPU per
request in the throughput run, less this floor, is the server's overhead.
For Django, the same views are also driven through Django's WSGI handler,
which is what runserver runs: the difference between the two floors is what
ASGI costs Django (asgiref's thread hops for sync middleware and views),
not any server.

Each (kind, loop) runs in its own subprocess pinned to the server CPU:
``python -m benchmarks.floor --kind raw --loop uvloop --seconds 1`` prints
one JSON sample per workload and concurrency.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks.affinity import pin_server_in_child
from benchmarks.servers import DJANGO, RAW, REPO_ROOT, Target

LOOPS = ("asyncio", "uvloop")
# Seconds per (workload, concurrency): the driver has no network noise, so shorter than a load run.
FLOOR_SECONDS = 1.0
# Requests in flight at once, as the throughput run's concurrencies.
CONCURRENCIES = (1, 64)
# Untimed requests first: imports, caches and Django's URL resolver settle.
WARMUP_REQUESTS = 200
WARMUP_S = 0.25
HOST_HEADER = b"127.0.0.1:8000"

# (workload, path, method, body bytes): the throughput workloads this driver can reproduce.
RAW_WORKLOADS = (("hello", "/", "GET", 0), ("echo-64k", "/echo", "POST", 65536), ("stream-1m", "/stream", "GET", 0))
DJANGO_WORKLOADS = (("django-hello", "/hello", "GET", 0), ("django-io", "/io", "GET", 0))


def _scope(path: str, method: str, body_bytes: int) -> dict[str, Any]:
    """What an HTTP/1.1 server builds for wrk's request (Host, and Content-Length for a POST)."""
    headers = [(b"host", HOST_HEADER)]
    if body_bytes:
        headers.append((b"content-length", str(body_bytes).encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def _one_request(app: Any, path: str, method: str, body: bytes) -> int:
    """One request through ``app``; returns the response body bytes."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    received = [False]
    sent = [0]

    async def receive() -> dict[str, Any]:
        if not received[0]:
            received[0] = True
            return {"type": "http.request", "body": body, "more_body": False}
        await done  # Django listens for the disconnect while the view runs
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            sent[0] += len(message.get("body", b""))
            if not message.get("more_body", False) and not done.done():
                done.set_result(None)

    await app(_scope(path, method, len(body)), receive, send)
    if not done.done():
        done.set_result(None)
    return sent[0]


async def _drive_asgi(app: Any, path: str, method: str, body_bytes: int, concurrency: int, seconds: float) -> dict[str, float]:
    body = b"x" * body_bytes
    done = [0]

    async def client(deadline: float) -> None:
        # As wrk's connections do: each sends its next request as soon as it has its answer.
        while time.perf_counter() < deadline:
            await _one_request(app, path, method, body)
            done[0] += 1

    warm_until = time.perf_counter() + WARMUP_S
    await asyncio.gather(*(client(warm_until) for _ in range(concurrency)))
    done[0] = 0
    cpu_began, wall_began = time.process_time(), time.perf_counter()
    await asyncio.gather(*(client(wall_began + seconds) for _ in range(concurrency)))
    requests = done[0]
    cpu, wall = time.process_time() - cpu_began, time.perf_counter() - wall_began
    return {"requests": requests, "cpu_us_per_req": cpu * 1e6 / requests, "wall_us_per_req": wall * 1e6 / requests}


def _drive_wsgi(app: Callable[..., Any], path: str, method: str, body_bytes: int, seconds: float) -> dict[str, float]:
    """Django's WSGI handler as runserver calls it: one request at a time per thread (concurrency 1)."""
    body = b"x" * body_bytes

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Callable[[bytes], None]:
        return lambda data: None

    def one() -> None:
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "QUERY_STRING": "",
            "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": HOST_HEADER.decode(),
            "CONTENT_LENGTH": str(body_bytes) if body_bytes else "",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        result = app(environ, start_response)
        try:
            for _ in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    for _ in range(WARMUP_REQUESTS):
        one()
    requests = 0
    cpu_began, wall_began = time.process_time(), time.perf_counter()
    deadline = wall_began + seconds
    while time.perf_counter() < deadline:
        one()
        requests += 1
    cpu, wall = time.process_time() - cpu_began, time.perf_counter() - wall_began
    return {"requests": requests, "cpu_us_per_req": cpu * 1e6 / requests, "wall_us_per_req": wall * 1e6 / requests}


def _import(spec: str, target: Target) -> Any:
    sys.path.insert(0, str(target.directory))
    module, _, attribute = spec.partition(":")
    return getattr(__import__(module, fromlist=[attribute]), attribute)


def measure_in_this_process(kind: str, loop: str, seconds: float, names: list[str] | None = None) -> list[dict[str, Any]]:
    """The workloads of ``kind`` (those in ``names``) at every concurrency on ``loop``, and Django's WSGI handler once."""
    target = RAW if kind == "raw" else DJANGO
    app = _import(target.app, target)
    workloads = [w for w in (RAW_WORKLOADS if kind == "raw" else DJANGO_WORKLOADS) if names is None or w[0] in names]
    factory = asyncio.new_event_loop
    if loop == "uvloop":
        import uvloop

        factory = uvloop.new_event_loop
    samples = []
    with asyncio.Runner(loop_factory=factory) as runner:
        for name, path, method, body_bytes in workloads:
            for concurrency in CONCURRENCIES:
                figures = runner.run(_drive_asgi(app, path, method, body_bytes, concurrency, seconds))
                samples.append({"workload": name, "handler": "asgi", "loop": loop, "concurrency": concurrency, **figures})
    if kind == "django" and loop == LOOPS[0]:
        wsgi_app = _import("benchsite.wsgi:application", target)
        for name, path, method, body_bytes in workloads:
            if name == "django-hello":  # the async view would run its own loop per request under WSGI
                figures = _drive_wsgi(wsgi_app, path, method, body_bytes, seconds)
                samples.append({"workload": name, "handler": "wsgi", "loop": "none", "concurrency": 1, **figures})
    return samples


def run_floors(
    workloads: list[str], loops: list[str], rounds: int, log: Callable[[str], None], seconds: float = FLOOR_SECONDS
) -> tuple[list[dict[str, Any]], list[str]]:
    """The floors of ``workloads``, ``rounds`` times, every (kind, loop) in a fresh subprocess pinned to the server CPU."""
    kinds = [kind for kind, known in (("raw", RAW_WORKLOADS), ("django", DJANGO_WORKLOADS)) if any(w[0] in workloads for w in known)]
    samples: list[dict[str, Any]] = []
    problems: list[str] = []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    for round_index in range(rounds):
        for kind in kinds:
            for loop in loops:
                argv = [sys.executable, "-m", "benchmarks.floor", "--kind", kind, "--loop", loop, "--seconds", str(seconds)]
                argv += ["--workloads", *workloads]
                done = subprocess.run(
                    argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, preexec_fn=pin_server_in_child
                )
                if done.returncode != 0:
                    problems.append(f"floor {kind} on {loop}: exit {done.returncode}: {done.stderr.strip()[-300:]}")
                    log(f"  ! {problems[-1]}")
                    continue
                for sample in json.loads(done.stdout):
                    samples.append({"round": round_index, **sample})
                    log(
                        f"  round {round_index + 1} floor {sample['workload']:<12} c={sample['concurrency']:<3} "
                        f"{sample['handler']} {sample['loop']:<8} {sample['cpu_us_per_req']:7.1f} us/req"
                    )
    return samples, problems


def main() -> None:
    parser = argparse.ArgumentParser(description="Print one kind's in-process floors as JSON.")
    parser.add_argument("--kind", choices=("raw", "django"), required=True)
    parser.add_argument("--loop", choices=LOOPS, required=True)
    parser.add_argument("--seconds", type=float, default=FLOOR_SECONDS)
    parser.add_argument("--workloads", nargs="+", help="only these workloads")
    args = parser.parse_args()
    print(json.dumps(measure_in_this_process(args.kind, args.loop, args.seconds, args.workloads)))


if __name__ == "__main__":
    main()
