"""Run a real server command (``python -m asgidev ...``, ``python manage.py runserver ...``) in a subprocess and follow what it prints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

import pytest

URL_LINE = re.compile(r"Starting ASGI server at (https?://\S+?)/?$")
# Generous: start-up may import Django, run checks and query migrations, on a slow, loaded CI box.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0


class ServerProcess:
    """``python ARGV`` in ``cwd``, its stdout and stderr merged and collected line by line as they come.

    ``env`` is the whole environment of the process; by default this one's, unbuffered and
    uncoloured. ``ServerProcess.asgidev(args, cwd)`` runs ``python -m asgidev ARGS``. Every wait
    fails the test (``pytest.fail``) with the output so far when it times out or the process exits.
    """

    def __init__(
        self,
        argv: Sequence[str],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        *,
        new_session: bool = False,
    ) -> None:
        if env is None:
            env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
        self._argv = [sys.executable, *argv]
        self.process = subprocess.Popen(
            self._argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            pass_fds=pass_fds,
            # Its own session and process group, for tests signalling the whole group.
            start_new_session=new_session,
        )
        self.url = ""
        self._lines: list[str] = []
        self._has_ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def asgidev(cls, args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None, *, new_session: bool = False) -> ServerProcess:
        """``python -m asgidev ARGS``."""
        return cls(["-m", "asgidev", *args], cwd, env, new_session=new_session)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._has_ended = True
            self._changed.notify_all()

    @property
    def lines(self) -> list[str]:
        """The lines printed so far, without their line ends."""
        with self._changed:
            return list(self._lines)

    @property
    def output(self) -> str:
        """Everything printed so far."""
        return "".join(line + "\n" for line in self.lines)

    def count(self, pattern: str | re.Pattern[str]) -> int:
        """How many lines printed so far match ``pattern``."""
        regex = re.compile(pattern)
        return sum(1 for line in self.lines if regex.search(line))

    def wait_for_line(self, pattern: str | re.Pattern[str], timeout: float = START_TIMEOUT_S, *, count: int = 1) -> re.Match[str]:
        """Wait until ``count`` lines in total match ``pattern`` (searched line by line); return the last of those matches."""
        regex = re.compile(pattern)
        matches: list[re.Match[str]] = []
        searched = 0

        def is_done() -> bool:
            nonlocal searched
            matches.extend(m for m in (regex.search(line) for line in self._lines[searched:]) if m)
            searched = len(self._lines)
            return len(matches) >= count or self._has_ended

        with self._changed:
            self._changed.wait_for(is_done, timeout)
        if len(matches) < count:
            if not self._has_ended:
                state = f"still running after {timeout}s"
            else:
                try:
                    state = f"exited with {self.process.wait(1)}"  # its output has just ended: about to exit
                except subprocess.TimeoutExpired:
                    state = "output closed"
            self._fail(f"waited for {count} line(s) matching {regex.pattern!r}, saw {len(matches)} ({state})")
        return matches[count - 1]

    def wait_started(self, timeout: float = START_TIMEOUT_S) -> str:
        """Wait for the banner; return the server's base URL (no trailing slash)."""
        self.url = self.wait_for_line(URL_LINE, timeout).group(1)
        return self.url

    def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        """Wait for the process to exit on its own; return its exit code (its output is then complete)."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._fail(f"still running after {timeout}s")
        self._reader.join(STOP_TIMEOUT_S)
        return code

    def stop(self, sig: int = signal.SIGINT, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` (default SIGINT, as Ctrl-C) unless exited; kill it if it has not exited after ``timeout``.

        Returns the exit code (``-SIGKILL`` when it had to be killed); closes the pipe.
        """
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(STOP_TIMEOUT_S)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode

    def _fail(self, reason: str) -> NoReturn:
        pytest.fail(f"{' '.join(self._argv[1:])}: {reason}. Output:\n{self.output}")


def is_process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (zombies count as gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return True


def save_like_an_editor(path: Path, text: str) -> None:
    """Write then rename, as many editors do, so a reader (or the reloader) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
