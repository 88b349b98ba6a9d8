"""Build ASGI connection scopes (HTTP and WebSocket) from parsed request data.

Shared by the HTTP and WebSocket paths so the scope is written once
(ASGI spec, "HTTP" and "WebSocket" connection scopes, spec_version 2.4).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from asgidev._types import Headers, Scope

ASGI_VERSION = {"version": "3.0", "spec_version": "2.4"}
_HTTP_VERSIONS = {b"1.1": "1.1", b"1.0": "1.0"}

Address = tuple[str, int] | None


def split_target(target: bytes) -> tuple[bytes, bytes]:
    """Split a request target into raw path and query string.

    Absolute-form targets (``http://host/path``, RFC 9112 section 3.2.2) are
    reduced to their path.
    """
    if target[:1] != b"/" and b"://" in target[:10]:
        after_scheme = target.index(b"://") + 3
        slash = target.find(b"/", after_scheme)
        target = target[slash:] if slash != -1 else b"/"
    raw_path, _, query = target.partition(b"?")
    return raw_path, query


def http_scope(
    *,
    method: bytes,
    target: bytes,
    http_version: bytes,
    headers: Headers,
    client: Address,
    server: Address,
    scheme: str,
    root_path: str,
    state: dict[str, Any] | None,
) -> Scope:
    """The ASGI ``http`` scope for one request."""
    raw_path, query = split_target(target)
    scope: Scope = {
        "type": "http",
        "asgi": ASGI_VERSION,
        "http_version": _HTTP_VERSIONS.get(http_version, "1.1"),
        "method": method.decode("ascii"),
        "scheme": scheme,
        "path": root_path
        + (raw_path.decode("ascii") if raw_path.isascii() and b"%" not in raw_path else unquote(raw_path.decode("latin-1"))),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": root_path,
        "headers": headers,
        "client": client,
        "server": server,
        "extensions": {},
    }
    if state is not None:
        # Each request gets a shallow copy, as the lifespan section of the spec requires.
        scope["state"] = state.copy()
    return scope


def websocket_scope(
    *,
    target: bytes,
    http_version: bytes,
    headers: Headers,
    subprotocols: list[str],
    client: Address,
    server: Address,
    scheme: str,
    root_path: str,
    state: dict[str, Any] | None,
) -> Scope:
    """The ASGI ``websocket`` scope for one upgrade request."""
    scope = http_scope(
        method=b"GET",
        target=target,
        http_version=http_version,
        headers=headers,
        client=client,
        server=server,
        scheme="wss" if scheme == "https" else "ws",
        root_path=root_path,
        state=state,
    )
    scope["type"] = "websocket"
    del scope["method"]
    scope["subprotocols"] = subprotocols
    scope["extensions"] = {"websocket.http.response": {}}
    return scope


class ProxyTrust:
    """Decides whether a peer may set forwarding headers (``--forwarded-allow-ips``)."""

    def __init__(self, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        self.trust_all = "*" in allowed
        self._networks = [ipaddress.ip_network(a, strict=False) for a in allowed if a != "*"]

    def is_trusted(self, client: Address) -> bool:
        if self.trust_all:
            return True
        if client is None:
            return False
        try:
            ip = ipaddress.ip_address(client[0])
        except ValueError:
            return False
        return any(ip in net for net in self._networks)

    def apply(self, scope: Scope) -> None:
        """Rewrite ``client`` and ``scheme`` from forwarding headers of a trusted peer."""
        if not self.is_trusted(scope["client"]):
            return
        forwarded_for = forwarded_proto = None
        for name, value in scope["headers"]:
            # The rightmost entry is the one the trusted proxy added; entries to
            # its left came from the client and could be forged.
            if name == b"x-forwarded-for":
                forwarded_for = value.decode("latin-1").split(",")[-1].strip()
            elif name == b"x-forwarded-proto":
                forwarded_proto = value.decode("latin-1").split(",")[-1].strip().lower()
            elif name == b"forwarded":
                last = value.decode("latin-1").split(",")[-1]
                for pair in last.split(";"):
                    key, _, val = pair.strip().partition("=")
                    val = val.strip('"')
                    if key.lower() == "for" and val:
                        # RFC 7239 section 6: "[v6]:port", "v4:port" or a bare address.
                        forwarded_for = val[1 : val.find("]")] if val.startswith("[") else val.split(":")[0]
                    elif key.lower() == "proto" and val:
                        forwarded_proto = val.lower()
        if forwarded_for:
            scope["client"] = (forwarded_for, 0)
        if forwarded_proto in ("http", "https", "ws", "wss"):
            if scope["type"] == "websocket":
                forwarded_proto = "wss" if forwarded_proto in ("https", "wss") else "ws"
            scope["scheme"] = forwarded_proto
