"""The benchmark suite runs end to end: one very short round, asgidev against uvicorn-h11, hello only.

A smoke test of the suite's plumbing (servers start and stop, the load
generator reports, the JSON has its shape), never of performance: no figure
is asserted on.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    find_spec("uvicorn") is None, reason="uvicorn (the benchmark baseline) is not installed: pip install -e '.[bench]'"
)


def test_one_short_round_writes_results(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "benchmarks", "--rounds", "1", "--duration", "1", "--servers", "asgidev", "uvicorn-h11"]
    argv += ["--workloads", "hello", "--extras", "none", "--out", str(tmp_path)]
    done = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr

    results = json.loads((tmp_path / "results.json").read_text())
    assert results["meta"]["client"] in ("wrk", "asyncio")
    assert results["problems"] == []
    samples = results["throughput"]["samples"]
    assert {(s["server"], s["concurrency"]) for s in samples} == {(server, c) for server in ("asgidev", "uvicorn-h11") for c in (1, 64)}
    assert all(s["requests"] > 0 and s["rps"] > 0 for s in samples)
    rows = {(r["server"], r["concurrency"]): r for r in results["throughput"]["summary"]}
    assert rows[("uvicorn-h11", 64)]["rps_ratio"]["median"] == pytest.approx(1.0)
    assert set(rows[("asgidev", 64)]["rps_ratio"]) == {"median", "min", "max", "n"}
    # The app's floor, driven in-process, and each row's CPU split as floor + server.
    floors = {(r["workload"], r["loop"], r["concurrency"]) for r in results["floor"]["summary"]}
    assert {("hello", "asyncio", 1), ("hello", "asyncio", 64)} <= floors
    page = (tmp_path / "results.md").read_text()
    assert "## The app's floor and each server's overhead" in page
    assert re.search(r"\| asgidev \|.*\| [\d,]+ \+ -?[\d,]+ \(-?\d+%\) \| 0 \|", page)


def spread_of(value: float) -> dict[str, float]:
    return {"median": value, "min": value, "max": value, "n": 1}


def test_every_section_is_rendered() -> None:
    """A publish must never drop a section (an earlier one lost the reload tables): each appears when its data does."""
    from benchmarks.report import render_markdown

    meta = {"date": "today", "cpu_model": "cpu", "nproc": 2, "kernel": "6", "python": "3.11", "versions": {}, "client": "wrk"}
    meta |= {"pinning": "none", "rounds": 1, "duration_s": 1.0}
    metrics = {m: spread_of(1.0) for m in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")}
    metrics |= {f"{m}_ratio": spread_of(1.0) for m in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")}
    throughput = [{"workload": "hello", "concurrency": c, "server": "asgidev", "errors": 0, **metrics} for c in (1, 64)]
    startup = {"label": "asgidev (raw)", "processes": 1, "startup_ms": spread_of(1), "startup_ms_ratio": spread_of(1)}
    startup |= {"rss_mib": spread_of(1), "rss_mib_ratio": spread_of(1)}
    reload_row = {"app": "small", "server": "asgidev", "latency_ms": spread_of(100), "ratio": spread_of(0.3), "edits": 1}
    reload_row |= {
        "timeouts": 0,
        "failed_requests": 0,
        "first_edit_ms": spread_of(1),
        "idle_rss_mib": spread_of(1),
        "startup_ms": spread_of(1),
    }
    big_tree = {"variant": "asgidev", "files": 50000, "idle_cpu_percent": 0.0, "seen_ms": 1, "reload_ms": 1, "edits": 1}
    big_tree["reloads_from_app_writes"] = 0
    results = {
        "meta": meta,
        "throughput": {"samples": [], "summary": throughput},
        "floor": {
            "summary": [{"workload": "hello", "handler": "asgi", "loop": "uvloop", "concurrency": 64, "cpu_us_per_req": spread_of(9)}]
        },
        "startup": {"summary": [startup]},
        "slow_reader": [{"server": "asgidev", "idle_rss_mib": 1.0, "peak_rss_mib": 1.0, "growth_mib": 0.0}],
        "reload": {"summary": [reload_row]},
        "live_reload": {"summary": {"small": {"median_ms": 1.0, "worst_ms": 1.0, "edits": 1}}},
        "big_tree": {"samples": [big_tree]},
        "embedding": [{"embedder": "asgidev", "cold_ms": 1.0, "warm_median_ms": 1.0, "warm_min_ms": 1.0, "warm_max_ms": 1.0}],
    }
    page = render_markdown(results, "benchmarks.png", "benchmarks-reload.png")
    for heading in (
        "## Targets",
        "## Throughput and latency",
        "## The app's floor and each server's overhead",
        "## Startup and idle memory",
        "## Memory while a client does not read",
        "## Reload latency",
        "## Live reload",
        "## Watching a big project",
        "## Starting a server inside a test process",
    ):
        assert heading in page
    assert "![Reload latency" in page and "(benchmarks-reload.png)" in page
