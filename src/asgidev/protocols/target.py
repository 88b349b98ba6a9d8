"""The request target's authority, for the one form that carries it (RFC 9112 section 3.2.2).

A proxy-style request ``GET http://evil.example/x HTTP/1.1`` names its host in
the target, and RFC 9112 section 3.2.2 says the server must then ignore the
Host header and use the target's authority. So that is the name the host guard
judges and the Host the app sees; a Host header saying 127.0.0.1 next to it
must not make a foreign name look local.
"""

from __future__ import annotations

import re
from typing import Final

# scheme "://" authority, up to the path, query or end (RFC 3986 section 3).
_ABSOLUTE_FORM: Final = re.compile(rb"[A-Za-z][A-Za-z0-9+.\-]*://([^/?#]*)")


def absolute_form_authority(target: bytes) -> bytes | None:
    """The host[:port] of an absolute-form target, lowercased without userinfo; None for origin-form (``/path``) and others."""
    if target[:1] == b"/":
        return None  # origin-form, nearly every request: no regex
    match = _ABSOLUTE_FORM.match(target)
    if match is None:
        return None
    # RFC 9110 section 4.2.4: userinfo is deprecated in http(s) URIs; the host follows the last "@".
    return match[1].rpartition(b"@")[2].lower()
