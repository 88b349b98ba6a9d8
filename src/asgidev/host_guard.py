"""DNS-rebinding protection for servers bound to loopback.

A page on evil.example can make a browser resolve evil.example to 127.0.0.1
and then talk to a development server on this machine (DNS rebinding). The
browser still sends ``Host: evil.example``, so a server bound to loopback
answers only loopback host names, plus ``--allowed-host`` names. Only a Host
that is present is judged: HTTP/1.0 requests without one cannot come from a
rebinding browser, and HTTP/1.1 without Host is already a 400 (RFC 9112 section 3.2).
For an absolute-form target the protocol layer puts the target's authority in
place of Host (RFC 9112 section 3.2.2), so that is the name judged here.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
import socket
from collections.abc import Iterable

LOOPBACK_PATTERNS = ("localhost", "*.localhost")
# A serialised web origin: scheme "://" host [":" port], nothing after.
_ORIGIN = re.compile(rb"https?://([^/?#@\s]+)", re.IGNORECASE)
# Distinct Host values remembered; a hostile client sending endless new names
# must not grow memory, so past this the cache is simply cleared.
MAX_CACHED_HOSTS = 256


class HostGuard:
    """Decides whether a request's Host header may reach the app."""

    def __init__(self, allowed: Iterable[str], *, is_active: bool) -> None:
        allowed = tuple(a.lower().rstrip(".") for a in allowed)
        self.is_active = is_active and "*" not in allowed
        self._patterns = (*LOOPBACK_PATTERNS, *allowed)
        self._cache: dict[bytes, bool] = {}

    def is_allowed(self, host: bytes | None) -> bool:
        if not self.is_active or host is None:
            return True
        verdict = self._cache.get(host)
        if verdict is None:
            if len(self._cache) >= MAX_CACHED_HOSTS:
                self._cache.clear()
            verdict = self._cache[host] = self._judge(host)
        return verdict

    def _judge(self, raw: bytes) -> bool:
        name = _strip_port(raw.decode("latin-1").strip().lower()).rstrip(".")
        try:
            if ipaddress.ip_address(name).is_loopback:
                return True
        except ValueError:
            pass
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self._patterns)


def _strip_port(host: str) -> str:
    """The name of ``host[:port]``; a malformed value comes back whole, and so matches nothing."""
    if host.startswith("["):
        # An IPv6 literal (RFC 3986 section 3.2.2): after "]" only a port may follow,
        # so "[::1]evil.example" and "[::1].evil.example" are no loopback names.
        end = host.find("]")
        rest = host[end + 1 :]
        is_port = rest == "" or (rest[:1] == ":" and rest[1:].isdigit())
        return host[1:end] if end != -1 and is_port else host
    name, sep, port = host.rpartition(":")
    return name if sep and port.isdigit() and ":" not in name else host


def origin_authority(origin: bytes) -> bytes | None:
    """The host[:port] of an ``Origin`` header (RFC 6454 section 7), lowercased; None for ``null`` or anything else."""
    match = _ORIGIN.fullmatch(origin.strip())
    return match[1].lower() if match else None


def is_loopback_bind(sockets: Iterable[socket.socket]) -> bool:
    """True when every socket listens on a loopback address (TCP only)."""
    found = False
    for sock in sockets:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return False
        try:
            if not ipaddress.ip_address(sock.getsockname()[0]).is_loopback:
                return False
        except ValueError:
            return False
        found = True
    return found


def rejection_message(host: bytes) -> str:
    """The one-line explanation sent with the 400."""
    shown = _strip_port(host.decode("latin-1", "replace"))[:100]
    return (
        f"Invalid Host header {shown!r}: this development server is bound to loopback and answers only local "
        f"host names (DNS-rebinding protection). Start it with --allowed-host {shown} to allow this name."
    )
