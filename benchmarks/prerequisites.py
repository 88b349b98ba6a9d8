"""What the suite needs, what is missing, and the command that installs it. Nothing is installed here."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib.util import find_spec

from benchmarks.servers import BASELINE, SERVERS

BENCH_EXTRA = "pip install -e '.[bench]'"


@dataclass(frozen=True)
class Readiness:
    has_wrk: bool
    missing_servers: tuple[str, ...]
    has_matplotlib: bool

    def notices(self) -> list[str]:
        lines = []
        if not self.has_wrk:
            lines.append("wrk not found: using the bundled asyncio client (slower; it will cap req/s). Install: apt-get install wrk")
        if self.missing_servers:
            lines.append(f"Not installed, skipped: {', '.join(self.missing_servers)}. Install: {BENCH_EXTRA}")
        if not self.has_matplotlib:
            lines.append(f"matplotlib not installed: no PNG chart. Install: {BENCH_EXTRA}")
        return lines

    @property
    def is_runnable(self) -> bool:
        return BASELINE not in self.missing_servers and "asgidev" not in self.missing_servers


def check() -> Readiness:
    missing = tuple(name for name, spec in SERVERS.items() if not spec.is_installed())
    return Readiness(has_wrk=shutil.which("wrk") is not None, missing_servers=missing, has_matplotlib=find_spec("matplotlib") is not None)
