"""Run the real ``asgidev`` command in a subprocess and follow what it prints."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

URL_LINE = re.compile(r"Starting ASGI server at (http://\S+?)/?$")


class ServerProcess:
    """``python -m asgidev ARGS`` in ``cwd``; stdout and stderr lines are collected as they come."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "asgidev", *args],
            cwd=cwd,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._new_lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._new_lines.put(line.rstrip("\n"))
        self._new_lines.put(None)

    def wait_for_line(self, pattern: str, timeout: float = 15.0, *, count: int = 1) -> re.Match[str]:
        """Wait until ``count`` lines in total match ``pattern``; return the last match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            matches = [m for m in (regex.search(line) for line in self.lines) if m]
            if len(matches) >= count:
                return matches[count - 1]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line matching {pattern!r} (x{count}) within {timeout}s; output:\n" + "\n".join(self.lines))
            try:
                line = self._new_lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(f"server exited ({self.proc.wait()}) before {pattern!r}; output:\n" + "\n".join(self.lines))
            self.lines.append(line)

    def count(self, pattern: str) -> int:
        self._drain()
        regex = re.compile(pattern)
        return sum(1 for line in self.lines if regex.search(line))

    def _drain(self) -> None:
        while True:
            try:
                line = self._new_lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                return
            self.lines.append(line)

    def wait_started(self, timeout: float = 20.0) -> str:
        self.url = self.wait_for_line(URL_LINE.pattern, timeout).group(1)
        return self.url

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self._reader.join(5)
            if self.proc.stdout is not None:
                self.proc.stdout.close()


def is_process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (zombies count as gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return True


def wait_until(condition: object, timeout: float = 10.0, interval: float = 0.02) -> None:
    """Poll ``condition()`` until true (for conditions only observable by asking, like process exit)."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        time.sleep(interval)


def save_like_an_editor(path: Path, text: str) -> None:
    """Write then rename, as many editors do, so a reader (or the reloader) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
