"""Turn raw samples into medians, min-max spreads and same-round ratios to the baseline."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from benchmarks.servers import BASELINE

Spread = dict[str, float]
THROUGHPUT_METRICS = ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")


def spread(values: list[float]) -> Spread | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize_throughput(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (workload, concurrency, server): absolute spreads and ratio spreads."""
    baseline = {(s["workload"], s["concurrency"], s["round"]): s for s in samples if s["server"] == BASELINE}
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for sample in samples:
        groups[(sample["workload"], sample["concurrency"], sample["server"])].append(sample)
    rows = []
    for (workload, concurrency, server), group in groups.items():
        row: dict[str, Any] = {"workload": workload, "concurrency": concurrency, "server": server}
        for metric in THROUGHPUT_METRICS:
            row[metric] = spread([s[metric] for s in group if s[metric] is not None])
            ratios = []
            for s in group:
                base = baseline.get((workload, concurrency, s["round"]))
                if base and s[metric] is not None and base[metric]:
                    ratios.append(s[metric] / base[metric])
            row[f"{metric}_ratio"] = spread(ratios)
        row["errors"] = sum(s["errors"] for s in group)
        rows.append(row)
    return rows


def summarize_floors(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (workload, handler, loop, concurrency): the app's in-process CPU per request."""
    groups: dict[tuple[str, str, str, int], list[float]] = defaultdict(list)
    for s in samples:
        groups[(s["workload"], s["handler"], s["loop"], s["concurrency"])].append(s["cpu_us_per_req"])
    return [
        {"workload": w, "handler": h, "loop": loop, "concurrency": c, "cpu_us_per_req": spread(values)}
        for (w, h, loop, c), values in groups.items()
    ]


def floor_of(floors: list[dict[str, Any]], workload: str, loop: str, concurrency: int) -> float | None:
    """The median floor of ``workload`` for a server on ``loop`` ("wsgi": Django's WSGI handler) at ``concurrency``."""
    handler, loop, concurrency = ("wsgi", "none", 1) if loop == "wsgi" else ("asgi", loop, concurrency)
    for row in floors:
        if (row["workload"], row["handler"], row["loop"], row["concurrency"]) == (workload, handler, loop, concurrency):
            return float(row["cpu_us_per_req"]["median"])
    return None


def pair_ratio(samples: list[dict[str, Any]], workload: str, concurrency: int, metric: str, server: str, reference: str) -> Spread | None:
    """``server``'s ``metric`` over ``reference``'s, round by round (the same run, interleaved): their spread."""
    by_round: dict[tuple[str, int], dict[str, Any]] = {}
    for s in samples:
        if s["workload"] == workload and s["concurrency"] == concurrency and s["server"] in (server, reference):
            by_round[(s["server"], s["round"])] = s
    ratios = []
    for (name, round_index), sample in by_round.items():
        base = by_round.get((reference, round_index))
        if name == server and base and sample[metric] is not None and base[metric]:
            ratios.append(sample[metric] / base[metric])
    return spread(ratios)


def summarize_startup(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by_round = {(s["label"], s["round"]): s for s in samples}
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sample in samples:
        groups[sample["label"]].append(sample)
    rows = []
    for label, group in groups.items():
        row: dict[str, Any] = {"label": label, "server": group[0]["server"], "app": group[0]["app"], "reload": group[0]["reload"]}
        row["baseline"] = group[0]["baseline"]
        for metric in ("startup_ms", "rss_mib"):
            row[metric] = spread([s[metric] for s in group])
            ratios = [s[metric] / base[metric] for s in group if (base := by_round.get((s["baseline"], s["round"]))) and base[metric]]
            row[f"{metric}_ratio"] = spread(ratios)
        row["processes"] = group[0]["processes"]
        rows.append(row)
    return rows


def summarize_reload(samples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (app, server): latency of every edit, of the first edit after a start, the ratio to
    ``uvicorn --reload`` on the same app (median of per-round ratios of medians), idle RSS and start-up."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for sample in samples:
        groups[(sample["app"], sample["server"])].append(sample)

    def round_medians(group: list[dict[str, Any]]) -> dict[int, float]:
        by_round: dict[int, list[float]] = defaultdict(list)
        for s in group:
            if s["latency_ms"] is not None:
                by_round[s.get("round", 0)].append(s["latency_ms"])
        return {r: statistics.median(v) for r, v in by_round.items()}

    rows = []
    for (app, server), group in groups.items():
        served = [s["latency_ms"] for s in group if s["latency_ms"] is not None]
        mine, theirs = round_medians(group), round_medians(groups.get((app, BASELINE), []))
        ratios = [mine[r] / theirs[r] for r in mine if theirs.get(r)]
        rows.append(
            {
                "app": app,
                "server": server,
                "edits": len(group),
                "timeouts": len(group) - len(served),
                "latency_ms": spread(served),
                "first_edit_ms": spread([s["latency_ms"] for s in group if s["edit"] == 0 and s["latency_ms"] is not None]),
                "ratio": spread(ratios),
                "idle_rss_mib": spread([s["idle_rss_mib"] for s in group if "idle_rss_mib" in s]),
                "startup_ms": spread([s["startup_ms"] for s in group if "startup_ms" in s]),
                "failed_requests": sum(s["failed_requests"] for s in group),
            }
        )
    return rows
