"""Profile asgidev under load: ``python -m benchmarks.hotspots [--workload hello] [--seconds 8]``.

Runs ``asgidev --no-reload`` under cProfile, drives it with the suite's load
generator at concurrency 64, stops it with SIGINT (so cProfile writes its
stats) and prints the functions with the most own time and cumulative time.
"""

from __future__ import annotations

import argparse
import os
import pstats
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import probe
from benchmarks.affinity import pin
from benchmarks.load import LoadSpec, default_client, run_load
from benchmarks.servers import RAW, REPO_ROOT, START_TIMEOUT_S, stop, wait_until_serving
from benchmarks.throughput import WORKLOADS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=[w for w, spec in WORKLOADS.items() if spec.kind == "raw"], default="hello")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    workload = WORKLOADS[args.workload]
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryFile() as stderr:
        stats_path = Path(scratch) / "asgidev.prof"
        port = probe.free_port()
        argv = [sys.executable, "-m", "cProfile", "-o", str(stats_path), "-m", "asgidev", RAW.app, "--app-dir", str(REPO_ROOT)]
        argv += ["--port", str(port), "--no-reload", "--no-access-log"]
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
        try:
            pin(process.pid, "server")
            wait_until_serving(process, port, "/", stderr)
            result = run_load(default_client(), port, LoadSpec(workload.path, workload.method, workload.body_bytes, 64, args.seconds))
            print(f"{result.rps:.0f} req/s under the profiler (profiling slows everything down; compare shares, not totals)")
            os.kill(process.pid, signal.SIGINT)
            process.wait(START_TIMEOUT_S)
        finally:
            stop(process)
        stats = pstats.Stats(str(stats_path))
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
