"""A minimal headless-Chromium driver over the DevTools protocol, for the live-reload tests.

Uses Debian's chromium (no browser download) and the ``websockets`` client.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.waiting import wait_until

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


class PageNavigatedError(RuntimeError):
    """The page navigated away (or closed) while DevTools evaluated something in it."""


class Browser:
    """One headless Chromium with one page, driven over CDP."""

    def __init__(self, executable: str) -> None:
        # Chromium on a fresh machine has been seen to exit before opening DevTools (once in a CI run): one more try.
        try:
            endpoint = self._launch(executable)
        except RuntimeError:
            endpoint = self._launch(executable)
        self._ids = itertools.count(1)
        targets = httpx.get(f"http://{endpoint}/json/list", timeout=10).json()
        page = next(t for t in targets if t["type"] == "page")
        self._stack = contextlib.ExitStack()
        self.ws: ClientConnection = self._stack.enter_context(connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=10))

    def _launch(self, executable: str) -> str:
        """Start Chromium on a fresh profile and return its DevTools address; a failed start leaves no process behind."""
        # Chromium helper processes may still write to the profile as it exits.
        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        self.proc = subprocess.Popen(
            [executable, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            return self._wait_for_devtools()
        except RuntimeError:
            self.proc.kill()
            self.proc.wait()
            assert self.proc.stderr is not None
            self.proc.stderr.close()
            self._profile.cleanup()
            raise

    def _wait_for_devtools(self) -> str:
        assert self.proc.stderr is not None
        deadline = time.monotonic() + 30
        for line in self.proc.stderr:
            match = re.search(r"DevTools listening on ws://([^/]+)/", line)
            if match:
                return match.group(1)
            if time.monotonic() > deadline:
                break
        raise RuntimeError("chromium did not start its DevTools endpoint")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        self.ws.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            reply: dict[str, Any] = json.loads(self.ws.recv(timeout=15))
            if reply.get("id") == message_id:
                if "error" in reply:
                    if "navigated or closed" in str(reply["error"].get("message")):
                        raise PageNavigatedError(f"{method}: {reply['error']}")
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def navigate(self, url: str) -> None:
        self.call("Page.navigate", url=url)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            return None
        return result["result"].get("value")

    def wait_for(self, expression: str, expected: Any, timeout: float = 15.0) -> float:
        """Wait until ``expression`` evaluates to ``expected``; returns the seconds it took."""
        started = time.monotonic()
        last: list[Any] = [None]

        def is_expected() -> bool:
            last[0] = self.evaluate(expression)
            return bool(last[0] == expected)

        # The page may navigate while it is asked (a live reload): ask the page it navigated to.
        wait_until(
            is_expected,
            timeout,
            retry_on=(PageNavigatedError,),
            what=f"{expression!r} to be {expected!r}",
            detail=lambda: f"it stayed {last[0]!r}",
        )
        return time.monotonic() - started

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stderr is not None:
                self.proc.stderr.close()
            self._profile.cleanup()
