"""The traceback overlay: tracebacks the open page could not otherwise show, pushed over the live-reload channel.

A page's own request that failed (a ``fetch`` that got problem+json, a
stream that broke after its response started) never shows the developer its
traceback: the page does. The overlay goes to the tab whose page made the
request (its Referer), or to every tab when no open tab shows that page, and
closes by itself when the same request next succeeds or the page reloads.
A page's first requests often fail before its live-reload WebSocket is open:
their overlay waits a few seconds for that tab to connect.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from asgidev._types import Scope
from asgidev.livereload.middleware import LiveReload, tab_page

K = TypeVar("K")
V = TypeVar("V")

# Requests whose overlay is open somewhere, remembered until they succeed; past this the oldest are forgotten.
MAX_FAILING_REQUESTS = 64
# How long an overlay waits for the tab of its page to connect (a page loads and
# connects in well under a second), and for how many pages at most.
WAIT_FOR_TAB_S = 10.0
MAX_WAITING_PAGES = 16


class Overlays:
    """Shows and clears traceback overlays in the tabs of one live-reload channel."""

    def __init__(self, live: LiveReload, may_receive: Callable[[Scope], bool]) -> None:
        self.live = live
        self._may_receive = may_receive
        self._failing: dict[str, None] = {}  # an ordered set of request keys
        self._waiting: dict[str, tuple[float, str, str]] = {}  # page -> (deadline, request key, message)
        live.add_greeter(self._greet)

    def inject_script(self, page: bytes) -> bytes:
        """``page`` with the live-reload script, so it reloads itself once the fix is saved."""
        return self.live.inject(page)

    def show(self, scope: Scope, markup: str) -> None:
        """Put the traceback ``markup`` over the page that made this request."""
        key = request_key(scope)
        _remember(self._failing, key, None, MAX_FAILING_REQUESTS)
        message = json.dumps({"type": "error", "key": key, "html": markup})
        page = referring_page(scope)
        if not self.live.send_to_tabs(message, page, self._may_receive) and page is not None:
            _remember(self._waiting, page, (time.monotonic() + WAIT_FOR_TAB_S, key, message), MAX_WAITING_PAGES)

    def request_succeeded(self, scope: Scope) -> None:
        """A request that had failed now succeeded: its overlays close."""
        if not self._failing:
            return
        key = request_key(scope)
        if key in self._failing:
            del self._failing[key]
            self._waiting = {page: entry for page, entry in self._waiting.items() if entry[1] != key}
            self.live.send_to_tabs(json.dumps({"type": "error-cleared", "key": key}), None, self._may_receive)

    def _greet(self, scope: Scope) -> list[str]:
        """The overlay waiting for the page this new tab shows."""
        page = tab_page(scope)
        entry = self._waiting.pop(page, None) if page is not None else None
        if entry is None or entry[0] < time.monotonic() or not self._may_receive(scope):
            return []
        return [entry[2]]


def _remember(entries: dict[K, V], key: K, value: V, limit: int) -> None:
    """Store ``key`` as the newest entry, forgetting the oldest past ``limit``."""
    entries.pop(key, None)
    entries[key] = value
    while len(entries) > limit:
        del entries[next(iter(entries))]


def request_key(scope: Scope) -> str:
    """What names "the same request" again: its method and path."""
    return f"{scope.get('method', '')} {scope.get('path', '')}"


def referring_page(scope: Scope) -> str | None:
    """The path and query of the page that made this request (its Referer), as the page's ``location`` spells them."""
    referer: bytes | None = next((value for name, value in scope["headers"] if name == b"referer"), None)
    if referer is None:
        return None
    parts = urlsplit(referer.decode("latin-1"))
    return parts.path + (f"?{parts.query}" if parts.query else "")
