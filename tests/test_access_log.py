"""The access log's direct path: the very lines logging would write, and logging whenever anyone else takes part."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

import asgidev
from asgidev import log
from asgidev.config import Config
from tests import apps
from tests.waiting import wait_until


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """asgidev's own logging set-up, as the CLI installs it, writing to a buffer; restored afterwards."""
    own, access = logging.getLogger("asgidev"), logging.getLogger("asgidev.access")
    saved = (list(own.handlers), own.level, own.propagate, access.disabled, log._console)
    log.configure_logging(Config())
    assert log._console is not None
    stream = io.StringIO()
    log._console.setStream(stream)
    try:
        yield stream
    finally:
        own.handlers[:], own.level, own.propagate, access.disabled, log._console = saved


def only_asgidevs_console() -> None:
    """Leave asgidev's console the ``asgidev`` logger's only handler, as in a real run.

    pytest 9.2 attaches its capture handlers to that logger too, at each test
    phase (seen with 9.2.0, not with 9.0.3), which rightly turns the direct path
    off. pytest removes its handlers by identity afterwards, so dropping them here is safe.
    """
    own = logging.getLogger("asgidev")
    own.handlers[:] = [handler for handler in own.handlers if handler is log._console]


def formatted_by_logging(message: str, status: int, use_colours: bool) -> str:
    record = logging.makeLogRecord({"name": "asgidev.access", "levelno": logging.INFO, "msg": message, "status_code": status})
    return log.ServerFormatter(use_colours=use_colours).format(record)


@pytest.mark.parametrize("use_colours", [False, True])
@pytest.mark.parametrize("status", [200, 304, 404, 500])
def test_direct_line_is_the_formatters_line(console: io.StringIO, use_colours: bool, status: int) -> None:
    only_asgidevs_console()
    handler = log.direct_access_console()
    assert handler is not None
    handler.server_formatter.use_colours = use_colours
    message = f'"GET /a?b=1 HTTP/1.1" {status} 13 0.1ms 127.0.0.1:5000'
    handler.write_access(message, status)
    expected = formatted_by_logging(message, status, use_colours)
    # The timestamp may have ticked over between the two; everything after it is identical.
    written = console.getvalue()
    assert written.endswith("\n")
    assert written.rstrip("\n").split("] ", 1)[1] == expected.split("] ", 1)[1]
    stamp = re.compile(r"^(\x1b\[[\d;]+m)?\[\d\d/\w{3}/\d{4} \d\d:\d\d:\d\d\] ")
    mine, theirs = stamp.match(written), stamp.match(expected)
    assert mine and theirs
    assert mine[1] == theirs[1]  # the same colour, or none


def test_anyone_else_on_the_access_logger_gets_logging(console: io.StringIO, caplog: pytest.LogCaptureFixture) -> None:
    only_asgidevs_console()
    assert log.direct_access_console() is not None
    access = logging.getLogger("asgidev.access")
    extra = logging.NullHandler()
    access.addHandler(extra)
    try:
        assert log.direct_access_console() is None
    finally:
        access.removeHandler(extra)
    access.disabled = True
    assert log.direct_access_console() is None
    access.disabled = False
    logging.getLogger("asgidev").addFilter(lambda record: True)
    try:
        assert log.direct_access_console() is None
    finally:
        logging.getLogger("asgidev").filters.clear()


def test_served_requests_log_through_the_direct_path(console: io.StringIO) -> None:
    import httpx

    only_asgidevs_console()
    with asgidev.serve_in_thread(apps.hello) as server:
        httpx.get(server.url + "/hi?x=1")
        wait_until(lambda: "GET /hi?x=1" in console.getvalue())
    assert console.getvalue().count('"GET /hi?x=1 HTTP/1.1" 200 13 ') == 1
