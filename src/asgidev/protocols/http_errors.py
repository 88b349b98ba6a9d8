"""The two ways an HTTP/1.1 exchange goes wrong: the client's request, or the app's response.

A client error carries the status it is answered with (400, 413, 414, 431,
501, 505) and a one-line reason for the plain-text body; the parser's errors
(h11's status hint and message, handed over by ``http11.py``) are translated
into those here, once.
"""

from __future__ import annotations


class HTTPProtocolError(Exception):
    """The client sent something we cannot serve; answer ``status_code`` and close."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class InvalidResponseError(ValueError):
    """The app's response breaks HTTP framing or header syntax."""


def classify(status: int, message: str, head_start: bytes, max_request_line: int) -> HTTPProtocolError:
    """The parser's error (its status hint and message) as the status and reason asgidev answers with.

    ``head_start`` (the first bytes of the request head) tells an overlong
    request line (414) from an overlong header block (431).
    """
    if status == 431:
        line_end = head_start.find(b"\n")
        if line_end == -1 or line_end > max_request_line:
            return HTTPProtocolError(414, "Request line too long.")
        message = "Request header fields too large."
    elif status == 501:
        message = "Transfer-Encoding not implemented; only chunked is supported."
    elif "content-length" in message.lower():
        message = "Invalid or conflicting Content-Length."
    return HTTPProtocolError(status, message or "Bad request.")
