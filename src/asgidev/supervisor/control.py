"""The control channel between supervisor and worker: small framed messages, optionally carrying file descriptors.

Over one Unix socket pair per worker:
  worker -> supervisor: READY (serving the app), BROKEN (serving the error page),
                        APPLIED / RESTART (answer to APPLY: handled in place, or a restart is needed),
                        CONN (an idle client connection handed back, with its fd and any bytes already read),
                        MODULES (JSON list of the installed modules it has imported: the warm set),
                        WARMED (a spare: how many modules it imported in advance, JSON),
                        STALE (a spare's answer to GO: why it must not serve, e.g. a warmed file changed; it exits)
  supervisor -> worker: WARM (a spare: import these modules now; JSON, see WarmRequest),
                        GO (load the app and serve; JSON options), APPLY (templates or translations
                        changed: reset them in place if the app can; JSON list of paths), ASSETS (stylesheets changed, for
                        live reload; JSON list of paths), STOP (stop accepting, finish
                        in-flight work, hand idle connections back),
                        CONN (adopt this client connection)
End-of-file means the peer died: a worker whose supervisor vanished exits.

Passing idle keep-alive connections on (SCM_RIGHTS) is what lets a reload
swap workers without closing a single client connection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import os
import select
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asgidev.config import Config

# How a worker finds its control channel. Its configuration and listening sockets
# come with GO, so a worker can be started before the command line is even parsed.
ENV_CONTROL_FD = "ASGIDEV_CONTROL_FD"

# Messages are small except CONN (at most one partial request head) and the
# module lists of the warm set (a large Django project imports ~3,000 modules,
# ~100 KiB of names).
MAX_MESSAGE_BYTES = 1024 * 1024
# How long a send may block: the peer reads promptly; past this it is stuck.
SEND_TIMEOUT_S = 5.0
_HEADER = struct.Struct("!IBB")  # payload length, kind, number of file descriptors attached


class Kind(enum.IntEnum):
    READY = 1
    BROKEN = 2
    STOP = 3
    CONN = 4
    GO = 5
    ASSETS = 6
    APPLY = 7
    APPLIED = 8
    RESTART = 9
    MODULES = 10
    WARM = 11
    WARMED = 12
    STALE = 13
    ROOTS = 14
    SEED = 15  # spare to supervisor: a forked copy of it, taken before its set-up ran in advance (seed.py)
    PREPARED = 16  # spare to supervisor: the app's set-up ran in advance, in this many ms (prepared.py)


@dataclass(frozen=True, slots=True)
class Message:
    kind: Kind
    payload: bytes = b""
    fds: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class GoOptions:
    """The payload of GO: what the worker should serve and print."""

    config: str = ""  # the Config as JSON (config_to_json)
    print_banner: bool = False
    crash_report: str = ""
    # The supervisor's watched roots: modules under them are the project's, never part of the warm set.
    watch_roots: tuple[str, ...] = ()

    def encode(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode()

    @classmethod
    def decode(cls, payload: bytes) -> GoOptions:
        if not payload:
            return cls()
        fields = json.loads(payload)
        return cls(**{**fields, "watch_roots": tuple(fields.get("watch_roots", ()))})


@dataclass(frozen=True, slots=True)
class WarmRequest:
    """The payload of WARM: modules a spare imports in advance, and the roots whose code it must not import."""

    modules: tuple[str, ...]
    watch_roots: tuple[str, ...]
    # The env files a worker applies after GO: applied before warming too, so
    # imports that read the environment see what a cold start's imports see.
    env_files: tuple[str, ...] = ()
    # The Config as JSON when the spare is to run the app's set-up in advance (prepared.py); else empty.
    config: str = ""
    # How many of ``modules`` (a prefix) imported cleanly in an earlier spare: after them the spare forks a
    # seed, a checkpoint to fall back on if the rest fails (seed.py); 0: none.
    checkpoint: int = 0
    # Import all of ``modules`` even once GO is waiting: the first worker of a start, whose imports these are anyway.
    finish: bool = False

    def encode(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode()

    @classmethod
    def decode(cls, payload: bytes) -> WarmRequest:
        fields = json.loads(payload)
        return cls(
            tuple(fields["modules"]),
            tuple(fields["watch_roots"]),
            tuple(fields.get("env_files", ())),
            fields.get("config", ""),
            int(fields.get("checkpoint", 0)),
            bool(fields.get("finish", False)),
        )


class ChannelClosedError(ConnectionError):
    """The peer closed its end (it exited or died)."""


class ControlChannel:
    """One end of a supervisor<->worker socket pair."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        sock.settimeout(SEND_TIMEOUT_S)
        self._buffer = b""
        self._fds: list[int] = []
        self._queued: list[Message] = []

    @classmethod
    def pair(cls) -> tuple[ControlChannel, socket.socket]:
        """A channel for the supervisor and the raw socket to pass to the worker."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs.set_inheritable(True)
        return cls(ours), theirs

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, kind: Kind, payload: bytes = b"", fds: Sequence[int] = ()) -> None:
        """Send one message (blocking briefly)."""
        data = _HEADER.pack(len(payload), kind, len(fds)) + payload
        if fds:
            socket.send_fds(self.sock, [data], list(fds))
        else:
            self.sock.sendall(data)

    def receive_available(self) -> list[Message]:
        """Read what the socket has now and return the complete messages.

        Raises:
            ChannelClosedError: the peer closed the channel.
        """
        if self._queued:
            queued, self._queued = self._queued, []
            return queued
        try:
            data, fds, _, _ = socket.recv_fds(self.sock, 65536, 16)
        except BlockingIOError:
            return []
        if not data:
            raise ChannelClosedError("control channel closed")
        self._buffer += data
        self._fds.extend(fds)
        messages = []
        while len(self._buffer) >= _HEADER.size:
            length, kind, fd_count = _HEADER.unpack_from(self._buffer)
            if length > MAX_MESSAGE_BYTES:
                raise ChannelClosedError(f"control message too large ({length} bytes)")
            end = _HEADER.size + length
            if len(self._buffer) < end:
                break
            payload = self._buffer[_HEADER.size : end]
            self._buffer = self._buffer[end:]
            attached = tuple(self._fds[:fd_count])
            del self._fds[:fd_count]
            messages.append(Message(Kind(kind), payload, attached))
        return messages

    def has_waiting_message(self, *, besides: Kind | None = None) -> bool:
        """Whether a message other than ``besides``, or the channel's end, has arrived; it stays queued for reading.

        A spare asks while warming: GO or the end stops it, a further WARM waits its turn.
        """
        if select.select([self.sock], [], [], 0)[0]:
            queued, self._queued = self._queued, []
            arrived: list[Message] = []
            try:
                arrived = self.receive_available()
            except (ChannelClosedError, OSError):
                return True  # the end stays readable: wait_message sees it too
            finally:
                self._queued = queued + arrived
        return any(message.kind is not besides for message in self._queued)

    def wait_message(self) -> Message | None:
        """Block until one message arrives; None when the peer closed the channel.

        Used by a spare worker before it has an event loop.
        """
        self.sock.settimeout(None)
        try:
            while True:
                try:
                    messages = self.receive_available()
                except (ChannelClosedError, OSError):
                    return None
                if messages:
                    self._queued = messages[1:]
                    return messages[0]
        finally:
            self.sock.settimeout(SEND_TIMEOUT_S)

    def close(self) -> None:
        """Close the socket, and every descriptor received with a message not yet taken (a seed must hold none)."""
        for fd in [*self._fds, *(fd for message in self._queued for fd in message.fds)]:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds, self._queued = [], []
        self.sock.close()


def config_to_json(config: Config) -> str:
    """Serialise a Config for the worker's environment (read back by ``config_from_json``)."""
    return json.dumps({f.name: getattr(config, f.name) for f in dataclasses.fields(config)})


def config_from_json(text: str) -> Config:
    data: dict[str, Any] = json.loads(text)
    for name, value in data.items():
        if isinstance(value, list):
            data[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    return Config(**data)
