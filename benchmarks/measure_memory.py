"""RSS while a client requests a 128 MiB stream and never reads it.

A server that honours back-pressure (waits for the socket to drain before
asking the app for more) stays near its idle size; one that buffers grows
by up to the whole response. The client shrinks its receive buffer so the
kernel cannot absorb the stream either.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from benchmarks import probe
from benchmarks.servers import RAW, SERVERS, ServerFailedError, launch

# Long enough for an unthrottled server to buffer most of 128 MiB on a slow machine.
HOLD_S = 3.0
SAMPLE_EVERY_S = 0.1
SLOW_READER_SERVERS = ("asgidev", "uvicorn-h11", "uvicorn-httptools", "hypercorn", "daphne")


def run_slow_reader(servers: list[str], log: Callable[[str], None]) -> tuple[list[dict[str, object]], list[str]]:
    samples: list[dict[str, object]] = []
    problems: list[str] = []
    for name in (s for s in SLOW_READER_SERVERS if s in servers and SERVERS[s].is_installed()):
        try:
            with launch(SERVERS[name], RAW) as running:
                idle = probe.rss_bytes(running.pid)
                peak = _hold_unread(running.port, running.pid)
        except (ServerFailedError, OSError) as exc:
            problems.append(f"slow reader {name}: {exc}")
            log(f"  ! {problems[-1]}")
            continue
        samples.append({"server": name, "idle_rss_mib": idle / 2**20, "peak_rss_mib": peak / 2**20, "growth_mib": (peak - idle) / 2**20})
        log(f"  slow reader {name:<18} idle {idle / 2**20:6.1f} MiB  peak {peak / 2**20:6.1f} MiB")
    return samples, problems


def _hold_unread(port: int, pid: int) -> int:
    peak = 0
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((probe.HOST, port))
        sock.sendall(f"GET /large HTTP/1.1\r\nHost: {probe.HOST}:{port}\r\n\r\n".encode())
        deadline = time.perf_counter() + HOLD_S
        while time.perf_counter() < deadline:
            peak = max(peak, probe.rss_bytes(pid))
            time.sleep(SAMPLE_EVERY_S)
    return peak
