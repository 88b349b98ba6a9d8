"""Profile asgidev under load: ``python -m benchmarks.hotspots [--workload hello] [--loop uvloop] [--py-spy]``.

Runs ``asgidev --no-reload`` and drives it with the suite's load generator at
concurrency 64. By default under cProfile (stopped with SIGINT so it writes
its stats), printing the functions with the most own and cumulative time.
With ``--py-spy`` the server runs unprofiled and py-spy samples it from the
outside (``pip install py-spy``): no profiler overhead distorts the shares,
and time spent in C (the loop, the socket calls) is attributed to the Python
line that called it. The output is each function's share of the samples it
is on top of the stack (own) and anywhere in it (total).
"""

from __future__ import annotations

import argparse
import collections
import os
import pstats
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import probe
from benchmarks.affinity import pin
from benchmarks.load import LoadSpec, default_client, run_load
from benchmarks.servers import ASGIDEV_SOURCE, RAW, REPO_ROOT, START_TIMEOUT_S, stop, wait_until_serving
from benchmarks.throughput import WORKLOADS

# Samples a second for py-spy: dense enough for a few seconds of load, light enough not to steal the server's CPU.
PY_SPY_RATE = 250


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=[w for w, spec in WORKLOADS.items() if spec.kind == "raw"], default="hello")
    parser.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--py-spy", action="store_true", help="sample with py-spy instead of cProfile")
    args = parser.parse_args()
    workload = WORKLOADS[args.workload]
    with tempfile.TemporaryDirectory() as scratch, tempfile.TemporaryFile() as stderr:
        out = Path(scratch) / "profile"
        port = probe.free_port()
        profiler = [] if args.py_spy else ["-m", "cProfile", "-o", str(out)]
        argv = [sys.executable, *profiler, "-m", "asgidev", RAW.app, "--app-dir", str(REPO_ROOT), "--loop", args.loop]
        argv += ["--port", str(port), "--no-reload", "--no-access-log"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), ASGIDEV_SOURCE])}
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
        try:
            pin(process.pid, "server")
            wait_until_serving(process, port, "/", stderr)
            spy = None
            if args.py_spy:
                py_spy = shutil.which("py-spy") or sys.exit("py-spy is not installed: pip install py-spy")
                spy_argv = [py_spy, "record", "--pid", str(process.pid), "--rate", str(PY_SPY_RATE), "--format", "raw"]
                spy_argv += ["--duration", str(int(args.seconds)), "--output", str(out), "--nonblocking"]
                spy = subprocess.Popen(spy_argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            spec = LoadSpec(workload.path, workload.method, workload.body_bytes, 64, args.seconds)
            result = run_load(default_client(), port, spec)
            print(f"{result.rps:.0f} req/s while profiled (compare shares, not totals)")
            if spy is not None:
                spy.wait(START_TIMEOUT_S + args.seconds)
            else:
                os.kill(process.pid, signal.SIGINT)
                process.wait(START_TIMEOUT_S)
        finally:
            stop(process)
        if args.py_spy:
            _print_collapsed(out, args.top)
        else:
            stats = pstats.Stats(str(out))
            stats.sort_stats("tottime").print_stats(args.top)
            stats.sort_stats("cumulative").print_stats(args.top)


def _print_collapsed(path: Path, top: int) -> None:
    """Own and total shares per function from py-spy's collapsed stacks ('frame;frame;frame count' lines)."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] for frame in stack.split(";")]
        n = int(count)
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    print(f"{samples} samples")
    for title, counter in (("own", own), ("total", total)):
        print(f"\n-- {title} --")
        for frame, n in counter.most_common(top):
            print(f"{100 * n / samples:6.1f} %  {frame}")


if __name__ == "__main__":
    main()
