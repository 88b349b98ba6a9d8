"""The bundled load generator, for machines without wrk: ``python -m benchmarks.load_client``.

Keep-alive connections, each sending its next request as soon as the last
response is complete (wrk's closed loop), for a fixed duration. Prints the
same JSON line as the wrk script in ``load.py``. Pure Python, so it saturates
well before a fast server does: compare CPU per request rather than req/s
when it was used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

# wrk's default: a request outstanding this long counts as a timeout error.
REQUEST_TIMEOUT_S = 2.0
# A 1 MiB chunked body arrives in many reads; the head itself is small.
READ_LIMIT_BYTES = 1 << 20


class Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.status_errors = 0
        self.bytes = 0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, int]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        await reader.readexactly(length)
        return status, len(head) + length
    total = len(head)
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        total += len(size_line) + size + 2
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return status, total
        await reader.readexactly(size + 2)


async def _connection(host: str, port: int, request: bytes, deadline: float, tally: Tally) -> None:
    writer: asyncio.StreamWriter | None = None
    reader: asyncio.StreamReader | None = None
    while time.perf_counter() < deadline:
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT_S):
                if writer is None or reader is None:
                    reader, writer = await asyncio.open_connection(host, port, limit=READ_LIMIT_BYTES)
                began = time.perf_counter()
                writer.write(request)
                status, size = await _read_response(reader)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
            tally.errors += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        tally.latencies.append(time.perf_counter() - began)
        tally.bytes += size
        if status > 399:
            tally.status_errors += 1
    if writer is not None:
        writer.close()


def _percentile_us(sorted_s: list[float], fraction: float) -> float:
    if not sorted_s:
        return 0.0
    return sorted_s[min(len(sorted_s) - 1, int(fraction * len(sorted_s)))] * 1e6


async def run(host: str, port: int, path: str, method: str, body_bytes: int, connections: int, duration_s: float) -> dict[str, float]:
    """Drive the server for ``duration_s``; the summary wrk's script prints."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
    if body_bytes:
        head += f"Content-Type: application/octet-stream\r\nContent-Length: {body_bytes}\r\n"
    request = head.encode() + b"\r\n" + b"x" * body_bytes
    tally = Tally()
    began = time.perf_counter()
    deadline = began + duration_s
    await asyncio.gather(*(_connection(host, port, request, deadline, tally) for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies = sorted(tally.latencies)
    return {
        "requests": len(latencies),
        "duration_us": elapsed * 1e6,
        "bytes": tally.bytes,
        "errors": tally.errors,
        "status_errors": tally.status_errors,
        "p50_us": _percentile_us(latencies, 0.50),
        "p99_us": _percentile_us(latencies, 0.99),
        "max_us": latencies[-1] * 1e6 if latencies else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/")
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body-bytes", type=int, default=0)
    parser.add_argument("--connections", "-c", type=int, default=1)
    parser.add_argument("--duration", "-d", type=float, default=1.0)
    args = parser.parse_args()
    summary = asyncio.run(run(args.host, args.port, args.path, args.method, args.body_bytes, args.connections, args.duration))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
