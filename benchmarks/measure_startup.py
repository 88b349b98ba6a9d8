"""Startup (spawn to first 200) and idle RSS, with and without reload, side by side.

Variants are interleaved per round like the throughput runs. Idle RSS is the
whole process tree (supervisor and worker for the reloaders), read after the
first answer and a short settle, when nothing else is running.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from benchmarks import probe
from benchmarks.servers import BASELINE, DJANGO, RAW, SERVERS, ServerFailedError, Target, launch

# After the first 200: reloaders finish starting their watchers, allocators settle.
SETTLE_S = 1.0


@dataclass(frozen=True)
class Variant:
    """A server, an app, and whether its reloader runs; ``baseline`` is the variant it is compared with."""

    label: str
    server: str
    app: str
    reload: bool
    baseline: str

    @property
    def target(self) -> Target:
        return RAW if self.app == "raw" else DJANGO


def _variants() -> list[Variant]:
    raw_servers = ("asgidev", BASELINE, "uvicorn-httptools", "hypercorn", "daphne")
    django_servers = ("asgidev", BASELINE, "daphne", "runserver")
    found: list[Variant] = []
    for app, names in (("raw", raw_servers), ("django", django_servers)):
        found += [Variant(f"{name} ({app})", name, app, False, f"{BASELINE} ({app})") for name in names]
        found += [
            Variant(f"{name} --reload ({app})", name, app, True, f"{BASELINE} --reload ({app})")
            for name in names
            if SERVERS[name].can_reload
        ]
    return found


VARIANTS = _variants()


def run_startup(servers: list[str], repeats: int, log: Callable[[str], None]) -> tuple[list[dict[str, object]], list[str]]:
    """Start each variant ``repeats`` times, interleaved; returns samples and problems."""
    samples: list[dict[str, object]] = []
    problems: list[str] = []
    chosen = [v for v in VARIANTS if v.server in servers and SERVERS[v.server].is_installed()]
    for round_index in range(repeats):
        for variant in chosen:
            try:
                with launch(SERVERS[variant.server], variant.target, reload=variant.reload) as running:
                    time.sleep(SETTLE_S)
                    rss = probe.rss_bytes(running.pid)
                    processes = len(probe.process_tree(running.pid))
            except ServerFailedError as exc:
                problems.append(f"startup {variant.label}: {exc}")
                log(f"  ! {problems[-1]}")
                continue
            sample = {**asdict(variant), "round": round_index, "startup_ms": running.started_s * 1e3, "rss_mib": rss / 2**20}
            sample["processes"] = processes
            samples.append(sample)
            log(f"  startup {variant.label:<34} {running.started_s * 1e3:7.0f} ms  idle RSS {rss / 2**20:6.1f} MiB ({processes} proc)")
    return samples, problems
