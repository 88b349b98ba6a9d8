"""The issue's performance targets, checked against a run's summaries."""

# ruff: noqa: RUF001 -- the multiplication sign and en dash are wanted in the Markdown and chart labels.

from __future__ import annotations

from typing import Any

from benchmarks.servers import BASELINE

# Reload latency goals from issue 8, in milliseconds.
RELOAD_GOAL_MS = {"small": 250.0, "django": 400.0}


def _median(row: dict[str, Any] | None, metric: str) -> float | None:
    value = row and row.get(metric)
    return None if not value else float(value["median"])


def _status(ok: bool | None) -> str:
    return "pending" if ok is None else ("yes" if ok else "**no**")


def check_targets(results: dict[str, Any]) -> list[dict[str, str]]:
    throughput = {(r["workload"], r["concurrency"], r["server"]): r for r in results.get("throughput", {}).get("summary", [])}
    startup = {r["label"]: r for r in results.get("startup", {}).get("summary", [])}
    reload_rows = {(r["app"], r["server"]): r for r in results.get("reload", {}).get("summary", [])}
    checks: list[dict[str, str]] = []

    def add(target: str, measured: str, ok: bool | None) -> None:
        checks.append({"target": target, "measured": measured, "status": _status(ok)})

    hello = throughput.get(("hello", 64, "asgidev"))
    rps, p99 = _median(hello, "rps_ratio"), _median(hello, "p99_ms_ratio")
    if hello:
        add(
            f"hello c=64: ≥ 1.5× {BASELINE} req/s, p99 no worse",
            f"{rps or 0:.2f}× req/s, {p99 or 0:.2f}× p99",
            None if rps is None or p99 is None else rps >= 1.5 and p99 <= 1.0,
        )
    mine_low, theirs_low = throughput.get(("django-hello", 1, "asgidev")), throughput.get(("django-hello", 1, "runserver"))
    if mine_low and theirs_low:
        a, b = _median(mine_low, "p50_ms"), _median(theirs_low, "p50_ms")
        add("Django hello p50 c=1 well under runserver's", f"{a:.2f} ms vs {b:.2f} ms", None if a is None or b is None else a < 0.8 * b)
    mine_high, theirs_high = throughput.get(("django-hello", 64, "asgidev")), throughput.get(("django-hello", 64, "runserver"))
    if mine_high and theirs_high:
        a, b = _median(mine_high, "p99_ms"), _median(theirs_high, "p99_ms")
        add("Django hello p99 c=64 well under runserver's", f"{a:.2f} ms vs {b:.2f} ms", None if a is None or b is None else a < 0.8 * b)
    if mine_high:
        ratio = _median(mine_high, "rps_ratio")
        add(f"Django hello req/s c=64 ≥ {BASELINE}'s", f"{ratio or 0:.2f}×", None if ratio is None else ratio >= 1.0)
    for app in ("raw", "django"):
        row = startup.get(f"asgidev --reload ({app})")
        startup_ratio, rss_ratio = _median(row, "startup_ms_ratio"), _median(row, "rss_mib_ratio")
        shown = "not measured" if row is None else f"{startup_ratio or 0:.2f}×"
        add(f"startup with reload ({app} app) ≤ uvicorn --reload", shown, None if startup_ratio is None else startup_ratio <= 1.0)
        shown = "not measured" if row is None else f"{rss_ratio or 0:.2f}×"
        add(f"idle RSS with reload ({app} app) ≤ uvicorn --reload", shown, None if rss_ratio is None else rss_ratio <= 1.0)
    for app, goal in RELOAD_GOAL_MS.items():
        median = _median(reload_rows.get((app, "asgidev")), "latency_ms")
        add(
            f"reload latency median ({app} app) < {goal:.0f} ms",
            "not measured" if median is None else f"{median:.0f} ms",
            None if median is None else median < goal,
        )
    return checks
