"""Throughput and latency: every workload, both concurrencies, servers interleaved round-robin.

All servers of one app kind start once and stay idle while another is
measured. Each round visits the servers in a rotated order, so no server is
always first (or always right after the noisiest one), and every figure is
later divided by the baseline's figure from the same round. Server CPU time
comes from /proc, so CPU per request is meaningful even when the client is
the bottleneck.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import asdict, dataclass

from benchmarks import probe
from benchmarks.load import Client, LoadFailedError, LoadSpec, run_load
from benchmarks.servers import DJANGO, RAW, SERVERS, Kind, Running, ServerFailedError, launch

CONCURRENCIES = (1, 64)
# Before the first round: lets lazy imports, caches and the allocator settle.
WARMUP_S = 1.0


@dataclass(frozen=True)
class Workload:
    name: str
    kind: Kind
    path: str
    method: str
    body_bytes: int
    servers: tuple[str, ...]
    description: str


# Like with like: asgidev on both loops next to uvicorn's h11 on both, httptools and granian on uvloop.
_RAW_SERVERS = ("asgidev", "asgidev-asyncio", "uvicorn-h11", "uvicorn-h11-uvloop", "uvicorn-httptools", "granian", "hypercorn", "daphne")
_DJANGO_SERVERS = ("asgidev", "asgidev-asyncio", "uvicorn-h11", "uvicorn-h11-uvloop", "granian", "daphne", "runserver")
WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("hello", "raw", "/", "GET", 0, _RAW_SERVERS, 'raw ASGI "Hello, world!"'),
        Workload("echo-64k", "raw", "/echo", "POST", 65536, _RAW_SERVERS, "raw ASGI, 64 KiB POST echoed back"),
        Workload("stream-1m", "raw", "/stream", "GET", 0, _RAW_SERVERS, "raw ASGI, 1 MiB streamed (chunked) response"),
        Workload("django-hello", "django", "/hello", "GET", 0, _DJANGO_SERVERS, "Django sync view, startproject middleware"),
        Workload("django-io", "django", "/io", "GET", 0, _DJANGO_SERVERS, "Django async view awaiting 10 ms of I/O"),
    )
}


@dataclass(frozen=True)
class Sample:
    round: int
    workload: str
    concurrency: int
    server: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_req: float | None
    errors: int
    requests: int


def run_throughput(
    workloads: list[Workload], servers: list[str], rounds: int, duration_s: float, client: Client, log: Callable[[str], None]
) -> tuple[list[dict[str, object]], list[str]]:
    """Measure; returns the samples (as dicts) and the problems met on the way."""
    samples: list[dict[str, object]] = []
    problems: list[str] = []
    for kind, target in (("raw", RAW), ("django", DJANGO)):
        chosen = [w for w in workloads if w.kind == kind]
        names = [s for s in SERVERS if s in servers and any(s in w.servers for w in chosen)]
        if not chosen or not names:
            continue
        with contextlib.ExitStack() as stack:
            running: dict[str, Running] = {}
            for name in names:
                try:
                    running[name] = stack.enter_context(launch(SERVERS[name], target))
                except ServerFailedError as exc:
                    problems.append(f"{name} ({kind}) did not start: {exc}")
                    log(f"  ! {problems[-1]}")
            for server in running.values():
                _warm_up(server, chosen[0], client)
            for round_index in range(rounds):
                order = _rotate(list(running), round_index)
                for workload in chosen:
                    for concurrency in CONCURRENCIES:
                        for name in order:
                            if name not in workload.servers:
                                continue
                            spec = LoadSpec(workload.path, workload.method, workload.body_bytes, concurrency, duration_s)
                            try:
                                sample = _measure(running[name], workload, spec, round_index, client)
                            except LoadFailedError as exc:
                                problems.append(f"{name} {workload.name} c={concurrency}: {exc}")
                                log(f"  ! {problems[-1]}")
                                continue
                            samples.append(asdict(sample))
                            log(
                                f"  round {round_index + 1} {workload.name:<12} c={concurrency:<3} {name:<18} "
                                f"{sample.rps:9.0f} req/s  p50 {sample.p50_ms:7.2f} ms  p99 {sample.p99_ms:7.2f} ms  "
                                f"cpu {sample.cpu_us_per_req or 0:7.0f} us/req  errors {sample.errors}"
                            )
    return samples, problems


def _measure(server: Running, workload: Workload, spec: LoadSpec, round_index: int, client: Client) -> Sample:
    # The whole process tree: granian serves from a child process, a reloader from its worker.
    tree = probe.process_tree(server.pid)
    cpu_before = sum(probe.cpu_seconds(pid) for pid in tree)
    result = run_load(client, server.port, spec)
    cpu_after = sum(probe.cpu_seconds(pid) for pid in tree)
    cpu_per_req = (cpu_after - cpu_before) * 1e6 / result.requests if result.requests else None
    return Sample(
        round=round_index,
        workload=workload.name,
        concurrency=spec.connections,
        server=server.name,
        rps=result.rps,
        p50_ms=result.p50_ms,
        p99_ms=result.p99_ms,
        cpu_us_per_req=cpu_per_req,
        errors=result.errors + result.status_errors,
        requests=result.requests,
    )


def _warm_up(server: Running, workload: Workload, client: Client) -> None:
    with contextlib.suppress(LoadFailedError):
        run_load(client, server.port, LoadSpec(workload.path, workload.method, workload.body_bytes, 16, WARMUP_S))


def _rotate(names: list[str], by: int) -> list[str]:
    if not names:
        return names
    by %= len(names)
    return names[by:] + names[:by]
