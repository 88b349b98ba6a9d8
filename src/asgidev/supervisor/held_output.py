"""Output held back: stdout and stderr redirected into a buffer, written out later or never.

A set-up run in advance (prepared.py) must print what it prints when, and
only if, it serves, as a cold start would. A terminal stays a terminal: a
pseudo-terminal of the same size holds its output, so colour detection and
``isatty()`` see what they would.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sys
import tempfile
import termios
import threading
from typing import BinaryIO

# Most output held back per stream; the rest is dropped, and the replay says so.
MAX_HELD_OUTPUT_BYTES = 1024 * 1024


class _HeldStream:
    """One of stdout and stderr, redirected into a buffer until released."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.saved = os.dup(fd)
        self.chunks: list[bytes] = []
        self.size = 0
        self.dropped = 0
        self.file: BinaryIO | None = None
        self.reader: threading.Thread | None = None
        if os.isatty(fd):
            master, replica = os.openpty()
            with contextlib.suppress(OSError):
                fcntl.ioctl(replica, termios.TIOCSWINSZ, fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
                attributes = termios.tcgetattr(replica)
                attributes[1] &= ~termios.OPOST  # bytes as written: no "\n" to "\r\n" on the way in
                termios.tcsetattr(replica, termios.TCSANOW, attributes)
            self.reader = threading.Thread(target=self._drain, args=(master,), name="asgidev-held-output", daemon=True)
            self.reader.start()
            target = replica
        else:
            self.file = file = tempfile.TemporaryFile()  # noqa: SIM115 -- closed in release()
            target = file.fileno()
        os.dup2(target, fd)
        if self.reader is not None:
            os.close(target)  # the pseudo-terminal's end is fd alone now: restoring fd ends the reader

    def _drain(self, master: int) -> None:
        try:
            while chunk := os.read(master, 65536):
                self._keep(chunk)
        except OSError:
            pass  # EIO: every writer closed its end
        finally:
            os.close(master)

    def _keep(self, chunk: bytes) -> None:
        room = MAX_HELD_OUTPUT_BYTES - self.size
        self.chunks.append(chunk[:room])
        self.size += min(len(chunk), room)
        self.dropped += max(0, len(chunk) - room)

    def release(self) -> None:
        """Restore the stream and write what was held to it."""
        os.dup2(self.saved, self.fd)
        os.close(self.saved)
        if self.reader is not None:
            self.reader.join(1.0)
        if self.file is not None:
            self.file.seek(0)
            self._keep(self.file.read(MAX_HELD_OUTPUT_BYTES + 1))
            self.file.close()
        if self.dropped:
            self.chunks.append(f"[asgidev: {self.dropped} more bytes of the set-up's output were dropped]\n".encode())
        with contextlib.suppress(OSError):
            os.write(self.fd, b"".join(self.chunks))


class HeldOutput:
    """stdout and stderr held back while the set-up runs in advance (see the module docstring)."""

    def __init__(self) -> None:
        _flush_std_streams()
        self.streams = [_HeldStream(1), _HeldStream(2)]

    def release(self) -> None:
        _flush_std_streams()
        for stream in self.streams:
            stream.release()


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
