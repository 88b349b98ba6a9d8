"""``python -m benchmarks``: check the tools, measure, write JSON, Markdown and a chart.

Exit codes: 0 done (problems met along the way are listed in the output),
2 the baseline or asgidev itself is not installed.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from benchmarks import affinity, prerequisites, report, summary
from benchmarks.floor import run_floors
from benchmarks.load import default_client
from benchmarks.measure_big_tree import run_big_tree
from benchmarks.measure_embedding import run_embedding
from benchmarks.measure_live_reload import run_live_reload
from benchmarks.measure_live_reload import summarize as summarize_live_reload
from benchmarks.measure_memory import run_slow_reader
from benchmarks.measure_reload import APP_SERVERS, RELOAD_SERVERS, run_reload
from benchmarks.measure_startup import run_startup
from benchmarks.servers import SERVERS
from benchmarks.throughput import WORKLOADS, run_throughput

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"
EXTRAS = ("startup", "slow-reader", "reload", "live-reload", "embedding", "big-tree")
VERSIONED = ("asgidev", "uvicorn", "h11", "httptools", "uvloop", "granian", "hypercorn", "daphne", "django")
# The floors vary little between rounds; three are enough for a median.
FLOOR_ROUNDS = 3


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Benchmark asgidev against its peers (issue 8).")
    parser.add_argument("--quick", action="store_true", help="1 round of 1 s, 3 reload edits: about 2 minutes")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; --quick 1)")
    parser.add_argument("--duration", type=float, help="seconds per load run (default 3; --quick 1)")
    parser.add_argument(
        "--servers", nargs="+", choices=list(SERVERS), default=list(SERVERS), metavar="NAME", help=f"from {', '.join(SERVERS)}"
    )
    parser.add_argument(
        "--workloads",
        nargs="+",
        choices=[*WORKLOADS, "none"],
        default=list(WORKLOADS),
        metavar="NAME",
        help=f"from {', '.join(WORKLOADS)}, or none",
    )
    parser.add_argument(
        "--reload-apps",
        nargs="+",
        choices=list(APP_SERVERS),
        default=list(APP_SERVERS),
        metavar="NAME",
        help=f"apps the reload measurement edits, from {', '.join(APP_SERVERS)}",
    )
    parser.add_argument(
        "--extras", nargs="+", choices=[*EXTRAS, "none"], default=list(EXTRAS), metavar="NAME", help=f"from {', '.join(EXTRAS)}, or none"
    )
    parser.add_argument(
        "--reload-edits",
        type=int,
        help="edits per app and server in the reload measurement, spread over the rounds (default 12; --quick 2)",
    )
    parser.add_argument(
        "--merge", type=Path, metavar="RESULTS_JSON", help="keep the sections this run does not measure from an earlier results.json"
    )
    parser.add_argument("--client", choices=("wrk", "asyncio"), help="load generator (default: wrk when installed)")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, help="where results.json, results.md and results.png go")
    parser.add_argument("--publish", action="store_true", help="also write docs/benchmarks.md and docs/benchmarks.png")
    return parser.parse_args(argv)


def _log(line: str) -> None:
    print(line, flush=True)


def _version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _meta(args: argparse.Namespace, client: str, rounds: int, duration: float) -> dict[str, Any]:
    cpu_model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu_model = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")), cpu_model
        )
    return {
        "schema": 1,
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": cpu_model,
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in VERSIONED},
        "client": client,
        "pinning": affinity.describe(),
        "rounds": rounds,
        "duration_s": duration,
        "servers": args.servers,
        "workloads": args.workloads,
        "extras": [e for e in args.extras if e != "none"],
    }


def main(argv: list[str] | None = None) -> int:
    # SIGTERM (a CI timeout, kill) unwinds like Ctrl+C, so every server started is stopped.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    args = _arguments(argv)
    readiness = prerequisites.check()
    for notice in readiness.notices():
        _log(f"note: {notice}")
    if not readiness.is_runnable:
        _log(f"error: asgidev and uvicorn (the baseline) are required. Install: {prerequisites.BENCH_EXTRA}")
        return 2
    _compile_asgidev()
    rounds = args.rounds or (1 if args.quick else 3)
    duration = args.duration or (1.0 if args.quick else 3.0)
    client = args.client or default_client()
    servers = [s for s in args.servers if s not in readiness.missing_servers]
    extras = set(args.extras) - {"none"}
    affinity.pin(0, "client")
    results: dict[str, Any] = {"meta": _meta(args, client, rounds, duration), "problems": []}
    _log(f"client: {client}; {affinity.describe()}; {rounds} rounds of {duration:g} s")
    began = time.perf_counter()
    try:
        _measure_all(results, args, servers, extras, client, rounds, duration)
    except KeyboardInterrupt:
        _log("interrupted: every server started has been stopped; writing what was measured")
        results["problems"].append("interrupted before the end")
    results["meta"]["elapsed_s"] = round(time.perf_counter() - began, 1)
    if args.merge is not None:
        _merge(results, json.loads(args.merge.read_text()))
    _write(results, args.out, args.publish)
    return 0


def _merge(results: dict[str, Any], earlier: dict[str, Any]) -> None:
    """Take the sections of an earlier run that this one did not measure; the page names them and that run's method."""
    kept = [key for key in earlier if key not in results and key not in ("meta", "problems")]
    for key in kept:
        results[key] = earlier[key]
    if kept:
        meta = earlier["meta"]
        results["meta"]["merged"] = {"sections": kept, "date": meta["date"], "rounds": meta["rounds"], "duration_s": meta["duration_s"]}
        results["problems"] += [f"(from the earlier run) {problem}" for problem in earlier.get("problems", [])]


def _compile_asgidev() -> None:
    """Byte-compile asgidev's source, as pip does for the installed packages it is compared with.

    An editable install on a machine with PYTHONDONTWRITEBYTECODE set (these
    sandboxes set it) would otherwise compile every module at every start,
    which start-up figures would count against asgidev alone.
    """
    import compileall

    import asgidev

    compileall.compile_dir(os.path.dirname(asgidev.__file__), quiet=1)


def _measure_all(
    results: dict[str, Any], args: argparse.Namespace, servers: list[str], extras: set[str], client: Any, rounds: int, duration: float
) -> None:
    problems: list[str] = results["problems"]
    workloads = [WORKLOADS[name] for name in args.workloads if name != "none"]
    if workloads:
        _log("throughput and latency:")
        samples, found = run_throughput(workloads, servers, rounds, duration, client, _log)
        results["throughput"] = {"samples": samples, "summary": summary.summarize_throughput(samples)}
        problems += found
        _log("app floors (in-process, no server):")
        loops = sorted({SERVERS[s].loop for s in servers if SERVERS[s].loop != "wsgi"})
        samples, found = run_floors([w.name for w in workloads], loops, min(rounds, FLOOR_ROUNDS), _log)
        results["floor"] = {"samples": samples, "summary": summary.summarize_floors(samples)}
        problems += found
    if "startup" in extras:
        _log("startup and idle RSS:")
        samples, found = run_startup(servers, max(rounds, 3) if not args.quick else 1, _log)
        results["startup"] = {"samples": samples, "summary": summary.summarize_startup(samples)}
        problems += found
    if "slow-reader" in extras:
        _log("memory with a client that does not read:")
        results["slow_reader"], found = run_slow_reader(servers, _log)
        problems += found
    if "reload" in extras:
        _log("reload latency:")
        reloaders = [s for s in RELOAD_SERVERS if s in servers or s not in SERVERS]
        edits, reload_rounds = (2, 1) if args.quick else (12, max(rounds, 3))
        edits = args.reload_edits or edits
        samples, found = run_reload(reloaders, edits, _log, rounds=reload_rounds, apps=tuple(args.reload_apps))
        results["reload"] = {"samples": samples, "summary": summary.summarize_reload(samples)}
        results["reload_pending"] = [p.split(":")[0].removeprefix("reload ") for p in found if "asgidev" in p]
        problems += found
    if "live-reload" in extras and "asgidev" in servers:
        _log("live reload in a browser:")
        samples, found = run_live_reload(3 if args.quick else 10, _log)
        results["live_reload"] = {"samples": samples, "summary": summarize_live_reload(samples)}
        problems += found
    if "big-tree" in extras:
        _log("watching a 50,000-file project:")
        samples, found = run_big_tree(servers, 3 if args.quick else 5, _log)
        results["big_tree"] = {"samples": samples}
        problems += found
    if "embedding" in extras:
        _log("in-process start:")
        results["embedding"], found = run_embedding(3 if args.quick else 10)
        problems += found


def _write(results: dict[str, Any], out: Path, publish: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    report.write_json(results, out / "results.json")
    destinations = [(out, "results")] + ([(DOCS_DIR, "benchmarks")] if publish else [])
    for directory, stem in destinations:
        has_chart = report.write_chart(results, directory / f"{stem}.png")
        reload_chart = f"{stem}-reload.png" if report.write_reload_chart(results, directory / f"{stem}-reload.png") else None
        page = report.render_markdown(results, f"{stem}.png" if has_chart else None, reload_chart)
        (directory / f"{stem}.md").write_text(page)
        _log(f"wrote {directory / stem}.md" + (f", {stem}.png" if has_chart else "") + (f", {reload_chart}" if reload_chart else ""))


if __name__ == "__main__":
    sys.exit(main())
