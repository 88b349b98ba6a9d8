"""Logging set-up for the process owner (CLI, worker): runserver-style lines on stderr.

The embedding API never calls this: a host process keeps its own logging.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from asgidev.config import Config
from asgidev.errors import ConfigError

DATE_FORMAT = "%d/%b/%Y %H:%M:%S"

# ANSI colours by status class, as runserver's terminal colours do.
_STATUS_COLOURS = {1: "\x1b[37m", 2: "", 3: "\x1b[36m", 4: "\x1b[33m", 5: "\x1b[1;31m"}
_LEVEL_COLOURS = {logging.WARNING: "\x1b[33m", logging.ERROR: "\x1b[31m", logging.CRITICAL: "\x1b[1;31m"}
_RESET = "\x1b[0m"
# The machine's time zone as the process found it. Django sets the process's TZ
# to settings.TIME_ZONE when it loads ("America/Chicago" unless a project says
# otherwise); the supervisor never loads Django, so without this a worker's lines
# and the supervisor's would show different clocks in one terminal.
_LOCAL_ZONE = datetime.now().astimezone().tzinfo


class ServerFormatter(logging.Formatter):
    """``[29/Nov/2026 10:00:00] message``; warnings and errors name their level.

    Colours only on a terminal (``use_colours``), so piped logs stay plain.
    """

    def __init__(self, use_colours: bool | None = None) -> None:
        super().__init__(fmt="[%(asctime)s] %(message)s", datefmt=DATE_FORMAT)
        self.use_colours = sys.stderr.isatty() and "NO_COLOR" not in os.environ if use_colours is None else use_colours

    def converter(self, seconds: float | None) -> time.struct_time:
        return datetime.fromtimestamp(time.time() if seconds is None else seconds, _LOCAL_ZONE).timetuple()

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if record.levelno >= logging.WARNING and record.name != "asgidev.access":
            stamp_end = line.find("] ") + 2
            line = f"{line[:stamp_end]}{record.levelname}: {line[stamp_end:]}"
        if not self.use_colours:
            return line
        colour = _LEVEL_COLOURS.get(record.levelno, "")
        status = getattr(record, "status_code", None)
        if isinstance(status, int):
            colour = _STATUS_COLOURS.get(status // 100, "")
        return f"{colour}{line}{_RESET}" if colour else line


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """asgidev's console: a stream handler the access log may also write to directly.

    An access line through ``logging`` (a LogRecord, the formatter, the handler
    chain) costs several times what the server spends on a small request. While
    this handler is the access log's only destination, ``write_access`` writes the
    very line the formatter would, with the timestamp formatted once a second.
    """

    def __init__(self, formatter: ServerFormatter) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(formatter)
        self.server_formatter = formatter
        self._stamp_second = -1
        self._stamp = ""

    def write_access(self, message: str, status_code: int) -> None:
        """Emit one access-log line as ``ServerFormatter`` would format it."""
        now = time.time()
        second = int(now)
        if second != self._stamp_second:
            self._stamp_second = second
            self._stamp = time.strftime(DATE_FORMAT, time.localtime(now))
        line = f"[{self._stamp}] {message}"
        if self.server_formatter.use_colours:
            colour = _STATUS_COLOURS.get(status_code // 100, "")
            if colour:
                line = f"{colour}{line}{_RESET}"
        with self.lock:  # type: ignore[union-attr]
            try:
                self.stream.write(line + self.terminator)
                self.flush()
            except Exception:
                self.handleError(logging.makeLogRecord({"msg": message}))


_console: ConsoleHandler | None = None


def direct_access_console() -> ConsoleHandler | None:
    """The console access lines may be written to directly, or None: then they go through ``logging``.

    Only while logging is asgidev's own set-up, untouched: nothing added to or
    filtering the ``asgidev.access`` and ``asgidev`` loggers (an app's logging
    configuration, pytest's caplog, ``--log-config``), and INFO enabled.
    """
    console = _console
    if console is None:
        return None
    access = _ACCESS
    if access.disabled or access.handlers or access.filters or not access.propagate or not access.isEnabledFor(logging.INFO):
        return None
    own = access.parent
    if own is None or own.handlers != [console] or own.filters or own.propagate or console.filters or console.level > logging.INFO:
        return None
    return console


_ACCESS = logging.getLogger("asgidev.access")


def configure_logging(config: Config) -> None:
    """Install asgidev's handlers on the ``asgidev`` loggers (not the root logger).

    Raises:
        ConfigError: ``--log-config`` cannot be read.
    """
    global _console
    if config.log_config is not None:
        from logging.config import dictConfig  # only for --log-config: it costs every start a few ms

        _console = None
        dictConfig(_read_log_config(config.log_config))
        return
    handler = _console = ConsoleHandler(ServerFormatter())
    root = logging.getLogger("asgidev")
    root.handlers[:] = [handler]
    root.setLevel(config.log_level.upper())
    root.propagate = False
    access = logging.getLogger("asgidev.access")
    access.disabled = not config.access_log


@contextlib.contextmanager
def keeping_own_loggers() -> Iterator[None]:
    """Load the user's app inside this block: a logging set-up it does leaves asgidev's console output alone.

    ``dictConfig`` with ``disable_existing_loggers`` (the default, and common in
    Django's ``LOGGING``) disables every logger it does not name, asgidev's
    included: no access log, no tracebacks, no load errors. Those the app's
    configuration disabled without naming them are enabled again on the way out,
    whether the app loaded or not (a failed load's error must be seen). A
    configuration that names ``asgidev`` (or replaces its handlers) is the
    user's choice and is kept.
    """
    own = logging.getLogger("asgidev")
    handlers = list(own.handlers)
    enabled = [logger for logger in _own_loggers() if not logger.disabled]
    try:
        yield
    finally:
        if own.handlers == handlers:
            for logger in enabled:
                logger.disabled = False


def _own_loggers() -> list[logging.Logger]:
    manager = logging.Logger.manager
    names = [name for name in manager.loggerDict if name == "asgidev" or name.startswith("asgidev.")]
    return [logger for name in names if isinstance(logger := manager.loggerDict[name], logging.Logger)]


def _read_log_config(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(f"Cannot read --log-config {path}: {exc.strerror}.") from None
    try:
        if path.endswith((".yaml", ".yml")):
            try:
                import yaml  # type: ignore[import-untyped]
            except ImportError:
                raise ConfigError("--log-config with YAML needs PyYAML.", "pip install pyyaml, or use a .json file.") from None
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"--log-config {path} is not valid: {exc}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"--log-config {path} must hold a dictConfig mapping.")
    return data
