"""The one frozen configuration object, and the declaration of every option.

Every option the CLI, ``manage.py runserver``, the environment
(``ASGIDEV_<OPTION>``), ``[tool.asgidev]`` in pyproject.toml and the embedding
API accept is a field here, declared once with its default, help text and flag
names. ``options.py`` derives the option table from these declarations; the CLI
(``cli.py``) and the Django command (``django/options.py``) are generated from it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from asgidev.editors import check_editor
from asgidev.errors import ConfigError

LifespanMode = Literal["auto", "on", "off"]
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
LoopChoice = Literal["auto", "asyncio", "uvloop"]
ServerTimingMode = Literal["off", "loopback", "always"]

LIFESPAN_MODES: tuple[LifespanMode, ...] = ("auto", "on", "off")
LOG_LEVELS: tuple[LogLevel, ...] = ("critical", "error", "warning", "info", "debug")
LOOP_CHOICES: tuple[LoopChoice, ...] = ("auto", "asyncio", "uvloop")
SERVER_TIMING_MODES: tuple[ServerTimingMode, ...] = ("off", "loopback", "always")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def parse_header_option(raw: str) -> tuple[str, str]:
    """Parse ``--header 'Name: value'`` (``Name:value`` also accepted)."""
    name, sep, value = raw.partition(":")
    if not sep or not name.strip():
        raise ConfigError(f"Invalid --header {raw!r}.", "Use --header 'Name: value'.")
    return name.strip(), value.strip()


def _split_commas(raw: str) -> tuple[str, ...]:
    """``--forwarded-allow-ips 10.0.0.1,10.0.0.2`` is two items (uvicorn's spelling)."""
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True, slots=True)
class OptionMeta:
    """How one Config field is spelled outside Python (kept in the field's metadata).

    ``flags`` are click-style declarations: ``"--port", "-p"``; a boolean's
    ``"--reload/--no-reload"`` names its on and off switches, ``" /--noreload"`` an
    extra off switch. Empty means ``--field-name`` (``--name/--no-name`` for a
    boolean). ``split`` turns one text item of a repeatable option into values;
    ``is_path`` makes a relative value in pyproject.toml relative to that file.
    """

    help: str
    flags: tuple[str, ...] = ()
    metavar: str | None = None
    is_positional: bool = False
    is_path: bool = False
    split: Callable[[str], tuple[Any, ...]] | None = None


def _opt(
    default: Any,
    help: str,
    *flags: str,
    metavar: str | None = None,
    is_positional: bool = False,
    is_path: bool = False,
    split: Callable[[str], tuple[Any, ...]] | None = None,
) -> Any:
    """A Config field: its default, the help text shown by ``--help``, and its flag names (see ``OptionMeta``)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for sequence defaults; Config is frozen")
    meta = OptionMeta(help, flags, metavar, is_positional, is_path, split)
    return field(default=default, metadata={"option": meta})


@dataclass(frozen=True, kw_only=True, slots=True)
class Config:
    """Everything that shapes one asgidev run. Immutable; build a new one to change it."""

    # What to serve.
    app: str | None = _opt(None, "The ASGI app as 'module:attribute'; 'module' alone tries 'application' then 'app'.", is_positional=True)
    app_dir: str = _opt(".", "Directory put first on sys.path, so the app imports from it (default: the current directory).", is_path=True)
    env_files: tuple[str, ...] = _opt(
        (),
        "A dotenv file whose variables the app gets (repeatable; later files win), re-read for every reload; "
        "default: .env in the app directory, if there is one. Variables set in the shell win.",
        "--env-file",
        is_path=True,
    )
    factory: bool = _opt(False, "Treat APP as a factory: call it with no arguments to get the ASGI app.", "--factory")

    # Where to listen.
    host: str = _opt(
        DEFAULT_HOST, f"Address to bind (default: {DEFAULT_HOST}, loopback); 0.0.0.0 makes the server reachable from the network."
    )
    port: int = _opt(DEFAULT_PORT, f"Port to bind (default: {DEFAULT_PORT}); 0 picks a free port and prints it.", "--port", "-p")
    ipv6: bool = _opt(False, "Bind the IPv6 loopback [::1] instead of 127.0.0.1 (as runserver's -6).", "--ipv6", "-6")
    uds: str | None = _opt(None, "Bind a Unix domain socket at this path instead of TCP.", is_path=True)
    fd: int | None = _opt(None, "Serve on an already-bound socket passed as this file descriptor.")

    # ASGI behaviour.
    root_path: str = _opt("", "ASGI root_path, for apps mounted below a URL prefix by a proxy.")
    lifespan: LifespanMode = _opt("auto", "Lifespan protocol: auto (use if the app supports it), on (required), off.")

    # The server's own speed.
    loop: LoopChoice = _opt(
        "auto", "Event loop: auto (uvloop when installed, else asyncio), asyncio, or uvloop (pip install 'asgidev[fast]')."
    )

    # Logging.
    log_level: LogLevel = _opt("info", "Log level: critical, error, warning, info, debug.")
    access_log: bool = _opt(True, "Log one line per response.")
    log_config: str | None = _opt(
        None,
        "A logging dictConfig file (.json, or .yaml with PyYAML installed) replacing asgidev's logging set-up.",
        is_path=True,
    )

    # HTTP.
    proxy_headers: bool = _opt(False, "Trust X-Forwarded-For/-Proto and Forwarded from --forwarded-allow-ips.")
    forwarded_allow_ips: tuple[str, ...] = _opt(
        ("127.0.0.1",), "Proxy addresses whose forwarding headers are trusted, comma-separated ('*' for all).", split=_split_commas
    )
    timeout_keep_alive: float = _opt(5.0, "Seconds an idle keep-alive connection stays open.")
    timeout_request_head: float = _opt(10.0, "Seconds a client has to send a complete request head (slow-client guard).")
    timeout_graceful_shutdown: float = _opt(5.0, "Seconds in-flight requests get to finish on shutdown or reload before they are closed.")
    limit_request_body: int | None = _opt(
        None,
        "Largest request body accepted, in bytes; larger ones get 413 (default: no limit, bodies stream to the app with backpressure).",
    )
    limit_concurrency: int | None = _opt(None, "Most requests/connections served at once; past it new requests get 503.")
    headers: tuple[tuple[str, str], ...] = _opt(
        (),
        "Extra default response headers, 'Name: value' (repeatable).",
        "--header",
        metavar="'NAME: VALUE'",
        split=lambda raw: (parse_header_option(raw),),
    )
    server_header: bool = _opt(True, "Send 'Server: asgidev'.")
    server_timing: ServerTimingMode = _opt(
        "off",
        "Add a Server-Timing header (the app's time and the server's own) to every response, for browser devtools: "
        "off; loopback (only while bound to loopback addresses); always (on network binds too, where anyone can read it).",
    )
    date_header: bool = _opt(True, "Send a 'Date' header.")

    timeout_request_body: float = _opt(
        30.0, "Seconds the server waits for the next part of a request body before giving up (slow-client guard)."
    )
    timeout_write: float = _opt(
        30.0, "Seconds a client may go without reading any of a buffered response before its connection is dropped (slow-reader guard)."
    )

    # Security.
    allowed_hosts: tuple[str, ...] = _opt(
        (),
        "Host names (wildcards like '*.example.test' allowed) accepted besides loopback names when bound to loopback; '*' turns the guard off.",
        "--allowed-host",
        metavar="NAME",
    )
    ssl_certfile: str | None = _opt(None, "Serve HTTPS with this certificate (PEM).", is_path=True)
    ssl_keyfile: str | None = _opt(None, "The private key (PEM) for --ssl-certfile.", is_path=True)
    ssl_keyfile_password: str | None = _opt(None, "Password of an encrypted --ssl-keyfile.")
    https: bool = _opt(False, "Serve HTTPS with a local development certificate for localhost, created once and cached.", "--https")

    # Reload (the supervisor).
    reload: bool = _opt(
        True,
        "Restart the worker process when code changes (as runserver does; --noreload is runserver's spelling).",
        "--reload/--no-reload",
        " /--noreload",
    )
    reload_dirs: tuple[str, ...] = _opt((), "Directories to watch (repeatable); default: the app directory.", "--reload-dir", is_path=True)
    reload_includes: tuple[str, ...] = _opt(
        (), "Extra glob patterns whose changes trigger a reload (repeatable), e.g. '*.yaml'.", "--reload-include"
    )
    reload_excludes: tuple[str, ...] = _opt((), "Glob patterns never triggering a reload (repeatable), e.g. 'data/*'.", "--reload-exclude")
    reload_poll: bool = _opt(
        False,
        "Poll for changes (every 300 ms) instead of waiting for OS events; automatic on WSL's /mnt/*, network and VM/container shares.",
        "--reload-poll",
    )
    reload_cold: bool = _opt(
        False,
        "Start every reload in a fresh interpreter that has imported nothing (no warm spare worker): slower, for anyone who suspects warming.",
        "--reload-cold",
    )

    # WebSockets.
    ws_max_size: int = _opt(16 * 1024 * 1024, "Largest WebSocket message accepted, in bytes; past it the connection closes with 1009.")
    ws_ping_interval: float | None = _opt(20.0, "Seconds between keepalive pings to WebSocket clients (none when unset).")
    ws_ping_timeout: float | None = _opt(20.0, "Seconds to wait for a pong before closing an unresponsive WebSocket.")
    ws_per_message_deflate: bool = _opt(True, "Negotiate per-message deflate compression when the client offers it.")

    # Django.
    static: bool = _opt(
        True, "Serve Django static files through the finders when DEBUG is on (--nostatic turns it off).", "--static/--nostatic"
    )
    insecure: bool = _opt(False, "Serve Django static files even with DEBUG=False, as runserver --insecure.", "--insecure")
    skip_checks: bool = _opt(False, "Skip Django's system checks at start and after reloads.", "--skip-checks")

    # Browser live reload.
    live_reload: bool = _opt(False, "Inject a script into HTML pages that reloads them after each code reload.")

    # Runtime errors (an exception escaping the app): the traceback page and overlay.
    editor: str | None = _opt(
        None,
        "Editor that the file:line links of traceback pages open: vscode, cursor, pycharm, sublime, or a URL template "
        "with {file} and {line} (default: the editor $VISUAL or $EDITOR names, if asgidev knows it).",
        metavar="EDITOR",
    )
    expose_tracebacks: bool = _opt(
        False,
        "Show traceback pages (source and local variables) to every client; by default only to loopback clients of a server bound to loopback.",
        "--expose-tracebacks",
    )

    def __post_init__(self) -> None:
        if self.lifespan not in LIFESPAN_MODES:
            raise ConfigError(f"Unknown lifespan mode {self.lifespan!r}.", "Use one of: auto, on, off.")
        if self.loop not in LOOP_CHOICES:
            raise ConfigError(f"Unknown event loop {self.loop!r}.", "Use one of: auto, asyncio, uvloop.")
        if self.server_timing not in SERVER_TIMING_MODES:
            raise ConfigError(f"Unknown --server-timing mode {self.server_timing!r}.", "Use one of: off, loopback, always.")
        if self.log_level not in LOG_LEVELS:
            raise ConfigError(f"Unknown log level {self.log_level!r}.", f"Use one of: {', '.join(LOG_LEVELS)}.")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"Port {self.port} is out of range.", "Use a port between 1 and 65535 (0 picks a free one).")
        if self.https and self.ssl_certfile:
            raise ConfigError("--https and --ssl-certfile cannot be used together.", "--https makes its own certificate; drop one.")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ConfigError("--ssl-keyfile needs --ssl-certfile.")
        for name in ("timeout_keep_alive", "timeout_request_head", "timeout_request_body", "timeout_graceful_shutdown", "timeout_write"):
            if getattr(self, name) < 0:
                raise ConfigError(f"--{name.replace('_', '-')} must not be negative.")
        if self.ws_max_size < 1:
            raise ConfigError("--ws-max-size must be at least 1 byte.")
        if self.limit_request_body is not None and self.limit_request_body < 0:
            raise ConfigError("--limit-request-body must not be negative.")
        if self.limit_concurrency is not None and self.limit_concurrency < 1:
            raise ConfigError("--limit-concurrency must be at least 1.")
        if self.editor is not None:
            check_editor(self.editor)
        if self.uds is not None and self.fd is not None:
            raise ConfigError("--uds and --fd cannot be used together.", "Pick one way to listen.")
        for name, _value in self.headers:
            if not name or any(c in name for c in " :\r\n\t") or not name.isascii():
                raise ConfigError(f"Invalid header name {name!r}.", "Use --header 'Name: value'.")
        for ip in self.forwarded_allow_ips:
            if ip != "*":
                try:
                    ipaddress.ip_network(ip, strict=False)
                except ValueError:
                    raise ConfigError(f"--forwarded-allow-ips: {ip!r} is not an IP address or network.") from None

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied; unknown names are a ConfigError."""
        unknown = set(changes) - set(field_names())
        if unknown:
            raise ConfigError(f"Unknown option(s): {', '.join(sorted(unknown))}.", "See 'asgidev --help'.")
        return dataclasses.replace(self, **changes)


def field_names() -> tuple[str, ...]:
    """The names of all configuration fields, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(Config))
