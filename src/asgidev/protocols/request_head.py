"""From a parsed request line and header block to a ``RequestHead``: what framing, persistence and routing need.

h11 has already checked the syntax; this module applies what h11 leaves to
the server (versions served, head size, the smuggling ambiguities of RFC 9112
section 6.1) and builds the ASGI header list in the same pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from asgidev.protocols.events import RequestHead
from asgidev.protocols.http_errors import HTTPProtocolError
from asgidev.protocols.target import absolute_form_authority

# A request head (request line + headers) larger than this is refused with 431.
# 64 KiB is generous for cookies and long URLs yet bounds what a client can
# make the server buffer before the app sees anything (h11's own default is 16 KiB).
MAX_HEAD_BYTES: Final = 64 * 1024
# A request line longer than this is refused with 414 (RFC 9112 section 3
# recommends supporting at least 8000 octets).
MAX_REQUEST_LINE_BYTES: Final = 8 * 1024

SUPPORTED_VERSIONS: Final = frozenset({b"1.0", b"1.1"})


def read_head(method: bytes, target: bytes, version: bytes, raw_headers: Iterable[tuple[bytes, bytes]]) -> tuple[RequestHead, bool, bool]:
    """The request head, whether it asks to close (``Connection: close``), and whether its body is chunked.

    Raises:
        HTTPProtocolError: a version, size or framing asgidev does not serve.
    """
    if version not in SUPPORTED_VERSIONS:
        raise HTTPProtocolError(505, "HTTP version not supported; this server speaks HTTP/1.0 and HTTP/1.1.")
    if len(target) > MAX_REQUEST_LINE_BYTES:
        raise HTTPProtocolError(414, "Request line too long.")
    has_close = has_length = has_transfer_encoding = has_upgrade = False
    content_length = None
    host = None
    head_size = len(target)
    # One pass builds the ASGI header list (lowercased names, as received
    # otherwise) and notes what framing, persistence and routing need.
    headers = []
    for raw_name, value in raw_headers:
        name = raw_name.lower()
        headers.append((name, value))
        head_size += len(name) + len(value) + 4
        if name == b"host":
            host = value
        elif name == b"connection":
            has_close = has_close or b"close" in value.lower()
        elif name == b"content-length":
            has_length = True
            content_length = int(value)  # h11 has validated it
        elif name == b"transfer-encoding":
            has_transfer_encoding = True
        elif name == b"upgrade":
            has_upgrade = True
    authority = absolute_form_authority(target)
    if authority is not None:
        # RFC 9112 section 3.2.2: the target's authority replaces Host.
        host = authority
        headers = [(n, v) for n, v in headers if n != b"host"] + [(b"host", authority)]
    if head_size > MAX_HEAD_BYTES:
        # h11 checks its limit only while a head is incomplete; a head
        # arriving in one read must be held to the same limit.
        raise HTTPProtocolError(431, "Request header fields too large.")
    if has_length and has_transfer_encoding:
        # RFC 9112 section 6.1: a server may serve such a request, but it
        # is the classic request-smuggling ambiguity, so refuse it.
        raise HTTPProtocolError(400, "Both Content-Length and Transfer-Encoding given; send only one.")
    if has_transfer_encoding and version == b"1.0":
        # RFC 9112 section 6.1: Transfer-Encoding in HTTP/1.0 means the framing
        # is faulty (1.0 has none); a 1.0 proxy in front would have read it otherwise.
        raise HTTPProtocolError(400, "Transfer-Encoding is not defined in HTTP/1.0; send Content-Length.")
    head = RequestHead(method, target, version, headers, host, content_length, has_upgrade)
    return head, has_close, has_transfer_encoding
