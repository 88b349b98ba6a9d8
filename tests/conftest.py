"""Shared fixtures: a real server on 127.0.0.1:0 via the public embedding API, and raw sockets."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from tests.browser import Browser, find_chromium


@pytest.fixture(autouse=True, scope="session")
def _private_cache_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Servers the tests start keep their warm-set files (supervisor/warm_cache.py) here, not in ~/.cache."""
    saved = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache-home"))
    yield
    if saved is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = saved


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Headless Chromium for the live-reload and overlay tests; skipped with the fix when it is not installed."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed (apt-get install --no-install-recommends chromium); .ci/run installs it")
    instance = Browser(executable)
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RawClient:
    """A blocking raw-socket HTTP client for protocol edge cases."""

    def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_until_close(self) -> bytes:
        chunks = []
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)

    def read_response(self) -> bytes:
        """Read one response with a Content-Length body (or headers only)."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return buf
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        self.leftover = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_client() -> Iterator[type[RawClient]]:
    made: list[RawClient] = []

    class Tracked(RawClient):
        def __init__(self, host: str, port: int, timeout: float = 5.0) -> None:
            super().__init__(host, port, timeout)
            made.append(self)

    yield Tracked
    for client in made:
        client.close()


# The real Django project fixtures (tests/django_helpers.py).
pytest_plugins = ("tests.django_helpers",)
