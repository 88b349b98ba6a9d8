"""The ``asgidev`` command (typer). The only place errors become exit codes.

Each option maps one-to-one onto a ``Config`` field: its default and help
text come from ``config.py``, so they are declared once.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from asgidev import __version__
from asgidev.addrport import parse_addrport
from asgidev.config import DEFAULT_HOST, DEFAULT_PORT, Config, field_default, field_help, parse_header_option
from asgidev.errors import AppImportError, AsgidevError, ConfigError

cli = typer.Typer(
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"asgidev {__version__}")
        raise typer.Exit()


def _opt(name: str, *flags: str, **kwargs: Any) -> Any:
    """A typer option for Config field ``name`` with its declared help text."""
    return typer.Option(*flags, help=field_help(name), **kwargs)


@cli.command(
    help="Serve an ASGI app for development, reloading it when code changes.\n\n"
    "APP is 'module:attribute' (e.g. mysite.asgi:application); without APP a welcome page is served. "
    "ADDRPORT is runserver's optional [addr:]port: 8001, 0:8001, 0.0.0.0:9000, [::1]:8000."
)
def run(
    app: Annotated[str | None, typer.Argument(metavar="[APP]", help=field_help("app"), show_default=False)] = None,
    addrport: Annotated[
        str | None,
        typer.Argument(metavar="[ADDRPORT]", help="Optional [addr:]port, as runserver's (default 127.0.0.1:8000).", show_default=False),
    ] = None,
    host: Annotated[str | None, _opt("host", "--host", show_default=DEFAULT_HOST)] = None,
    port: Annotated[int | None, _opt("port", "--port", "-p", show_default=str(DEFAULT_PORT))] = None,
    ipv6: Annotated[bool, _opt("ipv6", "--ipv6", "-6")] = field_default("ipv6"),
    uds: Annotated[str | None, _opt("uds", "--uds")] = field_default("uds"),
    fd: Annotated[int | None, _opt("fd", "--fd")] = field_default("fd"),
    app_dir: Annotated[str, _opt("app_dir", "--app-dir")] = field_default("app_dir"),
    factory: Annotated[bool, _opt("factory", "--factory")] = field_default("factory"),
    root_path: Annotated[str, _opt("root_path", "--root-path")] = field_default("root_path"),
    lifespan: Annotated[str, _opt("lifespan", "--lifespan")] = field_default("lifespan"),
    log_level: Annotated[str, _opt("log_level", "--log-level")] = field_default("log_level"),
    access_log: Annotated[bool, _opt("access_log", "--access-log/--no-access-log")] = field_default("access_log"),
    log_config: Annotated[str | None, _opt("log_config", "--log-config")] = field_default("log_config"),
    proxy_headers: Annotated[bool, _opt("proxy_headers", "--proxy-headers/--no-proxy-headers")] = field_default("proxy_headers"),
    forwarded_allow_ips: Annotated[str, _opt("forwarded_allow_ips", "--forwarded-allow-ips")] = ",".join(
        field_default("forwarded_allow_ips")
    ),
    timeout_keep_alive: Annotated[float, _opt("timeout_keep_alive", "--timeout-keep-alive")] = field_default("timeout_keep_alive"),
    timeout_request_head: Annotated[float, _opt("timeout_request_head", "--timeout-request-head")] = field_default("timeout_request_head"),
    timeout_graceful_shutdown: Annotated[float, _opt("timeout_graceful_shutdown", "--timeout-graceful-shutdown")] = field_default(
        "timeout_graceful_shutdown"
    ),
    timeout_request_body: Annotated[float, _opt("timeout_request_body", "--timeout-request-body")] = field_default("timeout_request_body"),
    allowed_hosts: Annotated[list[str] | None, _opt("allowed_hosts", "--allowed-host", metavar="NAME")] = None,
    ssl_certfile: Annotated[str | None, _opt("ssl_certfile", "--ssl-certfile")] = field_default("ssl_certfile"),
    ssl_keyfile: Annotated[str | None, _opt("ssl_keyfile", "--ssl-keyfile")] = field_default("ssl_keyfile"),
    ssl_keyfile_password: Annotated[str | None, _opt("ssl_keyfile_password", "--ssl-keyfile-password")] = field_default(
        "ssl_keyfile_password"
    ),
    https: Annotated[bool, _opt("https", "--https")] = field_default("https"),
    limit_concurrency: Annotated[int | None, _opt("limit_concurrency", "--limit-concurrency")] = field_default("limit_concurrency"),
    limit_request_body: Annotated[int | None, _opt("limit_request_body", "--limit-request-body")] = field_default("limit_request_body"),
    headers: Annotated[list[str] | None, _opt("headers", "--header", metavar="'NAME: VALUE'")] = None,
    server_header: Annotated[bool, _opt("server_header", "--server-header/--no-server-header")] = field_default("server_header"),
    date_header: Annotated[bool, _opt("date_header", "--date-header/--no-date-header")] = field_default("date_header"),
    reload: Annotated[bool, _opt("reload", "--reload/--no-reload")] = field_default("reload"),
    noreload: Annotated[bool, typer.Option("--noreload", help="Same as --no-reload (runserver's spelling).")] = False,
    reload_dirs: Annotated[list[str] | None, _opt("reload_dirs", "--reload-dir")] = None,
    reload_includes: Annotated[list[str] | None, _opt("reload_includes", "--reload-include")] = None,
    reload_excludes: Annotated[list[str] | None, _opt("reload_excludes", "--reload-exclude")] = None,
    reload_cold: Annotated[bool, _opt("reload_cold", "--reload-cold")] = field_default("reload_cold"),
    ws_max_size: Annotated[int, _opt("ws_max_size", "--ws-max-size")] = field_default("ws_max_size"),
    ws_ping_interval: Annotated[float | None, _opt("ws_ping_interval", "--ws-ping-interval")] = field_default("ws_ping_interval"),
    ws_ping_timeout: Annotated[float | None, _opt("ws_ping_timeout", "--ws-ping-timeout")] = field_default("ws_ping_timeout"),
    ws_per_message_deflate: Annotated[
        bool, _opt("ws_per_message_deflate", "--ws-per-message-deflate/--no-ws-per-message-deflate")
    ] = field_default("ws_per_message_deflate"),
    static: Annotated[bool, _opt("static", "--static/--nostatic")] = field_default("static"),
    insecure: Annotated[bool, _opt("insecure", "--insecure")] = field_default("insecure"),
    skip_checks: Annotated[bool, _opt("skip_checks", "--skip-checks")] = field_default("skip_checks"),
    live_reload: Annotated[bool, _opt("live_reload", "--live-reload/--no-live-reload")] = field_default("live_reload"),
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    try:
        config = build_config(
            app=app,
            addrport=addrport,
            host=host,
            port=port,
            ipv6=ipv6,
            uds=uds,
            fd=fd,
            app_dir=app_dir,
            factory=factory,
            root_path=root_path,
            lifespan=lifespan,
            log_level=log_level,
            access_log=access_log,
            log_config=log_config,
            proxy_headers=proxy_headers,
            forwarded_allow_ips=tuple(ip.strip() for ip in forwarded_allow_ips.split(",") if ip.strip()),
            timeout_keep_alive=timeout_keep_alive,
            timeout_request_head=timeout_request_head,
            timeout_graceful_shutdown=timeout_graceful_shutdown,
            limit_concurrency=limit_concurrency,
            headers=tuple(parse_header_option(h) for h in headers or ()),
            server_header=server_header,
            date_header=date_header,
            reload=reload and not noreload,
            reload_dirs=tuple(reload_dirs or ()),
            reload_includes=tuple(reload_includes or ()),
            reload_excludes=tuple(reload_excludes or ()),
            reload_cold=reload_cold,
            ws_max_size=ws_max_size,
            ws_ping_interval=ws_ping_interval,
            ws_ping_timeout=ws_ping_timeout,
            ws_per_message_deflate=ws_per_message_deflate,
            static=static,
            insecure=insecure,
            skip_checks=skip_checks,
            live_reload=live_reload,
            limit_request_body=limit_request_body,
            timeout_request_body=timeout_request_body,
            allowed_hosts=tuple(allowed_hosts or ()),
            ssl_certfile=ssl_certfile,
            ssl_keyfile=ssl_keyfile,
            ssl_keyfile_password=ssl_keyfile_password,
            https=https,
        )
        code = start(config)
    except AppImportError as exc:
        _print_error(exc)
        if exc.user_traceback:
            print(exc.user_traceback, file=sys.stderr, end="")
        raise typer.Exit(1) from None
    except AsgidevError as exc:
        _print_error(exc)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def build_config(*, addrport: str | None, host: str | None, port: int | None, **fields: Any) -> Config:
    """Combine ADDRPORT, --host/--port/-6 and the other options into one Config.

    Raises:
        ConfigError: conflicting or invalid options.
    """
    if addrport is not None:
        if host is not None or port is not None:
            raise ConfigError("Give the address either as ADDRPORT or with --host/--port, not both.")
        parsed = parse_addrport(addrport)
        host, port = parsed.host, parsed.port
    if host is None:
        host = "::1" if fields.get("ipv6") else DEFAULT_HOST
    return Config(host=host, port=DEFAULT_PORT if port is None else port, **fields)


def start(config: Config) -> int:
    """Run the server as configured; returns the exit code."""
    from asgidev.log import configure_logging

    configure_logging(config)
    if config.reload:
        from asgidev.supervisor.supervisor import run_supervisor

        return run_supervisor(config)
    return _run_in_process(config)


def _run_in_process(config: Config) -> int:
    from asgidev.console import startup_banner
    from asgidev.runner import load_app, serve_sockets
    from asgidev.sockets import bind_sockets

    loaded = load_app(config)
    config = loaded.configure(config)
    sockets = bind_sockets(config)

    def on_started(_server: object) -> None:
        text = startup_banner(config, app_label=loaded.label, sockets=sockets, is_reloading=False, extra_lines=loaded.banner_lines)
        sys.stdout.write(text)
        sys.stdout.flush()
        if loaded.after_start is not None:
            loaded.after_start()

    app = loaded.app
    if config.live_reload:
        # Without the supervisor nothing swaps stylesheets, but pages still reload when the process is restarted.
        from asgidev.livereload.middleware import wrap

        app = wrap(app, config, generation=str(os.getpid()))
    serve_sockets(config, app, sockets, on_started=on_started)
    return 0


def _print_error(exc: AsgidevError) -> None:
    message = exc.message if exc.message.startswith("Error") else f"Error: {exc.message}"
    print(f"{message} {exc.hint}".rstrip(), file=sys.stderr)


def main() -> None:
    """Console-script entry point."""
    cli()
