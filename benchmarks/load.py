"""Drive a server with wrk (one thread) or, without wrk, the bundled asyncio client.

Both print one JSON line (requests, duration, errors, p50/p99 latency) which
``run_load`` turns into a ``LoadResult``. wrk reports through a Lua ``done``
hook, so no human-oriented output is parsed. The generator runs pinned to the
client CPU and is always stopped by its process group.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from benchmarks import probe
from benchmarks.affinity import pin

Client = Literal["wrk", "asyncio"]
# Start-up and shutdown of the load generator on top of the measured duration.
SLACK_S = 15.0

_WRK_SCRIPT = """\
wrk.method = "{method}"
{body}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{{"requests": %d, "duration_us": %d, "bytes": %d, "errors": %d, "status_errors": %d, ' ..
    '"p50_us": %.1f, "p99_us": %.1f, "max_us": %.1f}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""
_WRK_BODY = 'wrk.body = string.rep("x", {size})\nwrk.headers["Content-Type"] = "application/octet-stream"'


@dataclass(frozen=True)
class LoadSpec:
    """What to send and how hard."""

    path: str
    method: str
    body_bytes: int
    connections: int
    duration_s: float


@dataclass(frozen=True)
class LoadResult:
    requests: int
    duration_s: float
    errors: int
    status_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0


class LoadFailedError(RuntimeError):
    """The load generator failed or printed no summary."""


def default_client() -> Client:
    return "wrk" if shutil.which("wrk") else "asyncio"


def run_load(client: Client, port: int, spec: LoadSpec) -> LoadResult:
    """Run one load test against 127.0.0.1:``port``.

    Raises:
        LoadFailedError: the generator exited badly or timed out.
    """
    with tempfile.TemporaryDirectory() as scratch:
        argv = _wrk_argv(port, spec, Path(scratch)) if client == "wrk" else _client_argv(port, spec)
        output = _run_pinned(argv, spec.duration_s + SLACK_S)
    summary_line = next((line for line in reversed(output.splitlines()) if line.startswith("{")), None)
    if summary_line is None:
        raise LoadFailedError(f"{client} printed no summary: {output[-300:]!r}")
    data = json.loads(summary_line)
    return LoadResult(
        requests=int(data["requests"]),
        duration_s=data["duration_us"] / 1e6,
        errors=int(data["errors"]),
        status_errors=int(data["status_errors"]),
        p50_ms=data["p50_us"] / 1e3,
        p99_ms=data["p99_us"] / 1e3,
    )


def _wrk_argv(port: int, spec: LoadSpec, scratch: Path) -> list[str]:
    script = scratch / "report.lua"
    body = _WRK_BODY.format(size=spec.body_bytes) if spec.body_bytes else ""
    script.write_text(_WRK_SCRIPT.format(method=spec.method, body=body))
    duration = f"{max(1, round(spec.duration_s))}s"
    url = f"http://{probe.HOST}:{port}{spec.path}"
    return ["wrk", "-t1", f"-c{spec.connections}", f"-d{duration}", "-s", str(script), url]


def _client_argv(port: int, spec: LoadSpec) -> list[str]:
    return [
        sys.executable,
        "-m",
        "benchmarks.load_client",
        f"--port={port}",
        f"--path={spec.path}",
        f"--method={spec.method}",
        f"--body-bytes={spec.body_bytes}",
        f"--connections={spec.connections}",
        f"--duration={spec.duration_s}",
    ]


def _run_pinned(argv: list[str], timeout_s: float) -> str:
    repo_root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": repo_root}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=repo_root, start_new_session=True)
    try:
        pin(process.pid, "client")
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired as exc:
        raise LoadFailedError(f"{argv[0]} still running after {timeout_s:.0f} s") from exc
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    if process.returncode != 0:
        raise LoadFailedError(f"{argv[0]} exited with {process.returncode}: {output.decode(errors='replace')[-300:]}")
    return output.decode(errors="replace")
