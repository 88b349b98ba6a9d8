"""Blocking one-shot HTTP/1.1 requests and process facts read from /proc.

Used to wait for a server to answer, to watch for a reload's new code, and to
read a server's CPU time and memory. Each request opens its own connection
and asks the server to close it, so nothing here keeps state between calls.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
# A single probe never waits longer than this for a byte; a reloading server may hold a request that long.
PROBE_TIMEOUT_S = 5.0
CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


def fetch(port: int, path: str = "/", *, timeout: float = PROBE_TIMEOUT_S) -> Reply:
    """GET ``path`` on 127.0.0.1:``port`` with ``Connection: close``.

    Raises:
        OSError: refused, reset or timed out.
        ValueError: the reply is not HTTP.
    """
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ValueError(f"not an HTTP response: {raw[:60]!r}")
    return Reply(int(parts[1]), body)


def free_port() -> int:
    """A port the kernel just handed out on 127.0.0.1 (free, barring a race)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads) from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    # Fields 14 and 15 of proc(5); the slice above starts at field 3.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, found through each process's parent id."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` and its descendants, summed (shared pages count once per process)."""
    total = 0
    for member in process_tree(pid):
        try:
            resident = int(Path(f"/proc/{member}/statm").read_text().split()[1])
        except (OSError, IndexError):
            continue
        total += resident * PAGE_BYTES
    return total
