"""Which traceback format a request asks for, from its Accept header (RFC 9110 section 12.5.1)."""

from __future__ import annotations

import enum

from asgidev._types import Headers


class Wanted(enum.Enum):
    HTML = "html"  # a browser navigating: the page
    JSON = "json"  # an API client: application/problem+json
    TEXT = "text"  # curl, httpx, anything else


_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_JSON_TYPES = frozenset({"application/json", "application/problem+json"})


def wanted_format(headers: Headers) -> Wanted:
    """The best of HTML and JSON by quality; a wildcard alone (``*/*``, as curl sends) means plain text."""
    html_q = json_q = 0.0
    for name, value in headers:
        if name != b"accept":
            continue
        for item in value.decode("latin-1").split(","):
            media, _, params = item.partition(";")
            media = media.strip().lower()
            q = _quality(params)
            if media in _HTML_TYPES:
                html_q = max(html_q, q)
            elif media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json")):
                json_q = max(json_q, q)
    if html_q == json_q == 0.0:
        return Wanted.TEXT
    return Wanted.HTML if html_q >= json_q else Wanted.JSON


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return min(1.0, max(0.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0
