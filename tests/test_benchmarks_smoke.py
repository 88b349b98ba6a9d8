"""The benchmark suite runs end to end: one very short round, asgidev against uvicorn-h11, hello only.

A smoke test of the suite's plumbing (servers start and stop, the load
generator reports, the JSON has its shape), never of performance: no figure
is asserted on.
"""

from __future__ import annotations

import json
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
    assert "| asgidev |" in (tmp_path / "results.md").read_text()
