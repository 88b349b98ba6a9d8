"""The ``asgidev`` command (typer). The only place errors become exit codes.

The command's options are generated from ``Config`` (``config.py`` declares
each one's default, help and flag names; ``options.py`` derives the table), so
an option is declared once. The environment and pyproject.toml fill in what the
command line leaves out (``sources.py``).
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from asgidev import __version__
from asgidev.addrport import parse_addrport, split_positionals
from asgidev.config import Config
from asgidev.envfile import check_env_files
from asgidev.errors import AppImportError, AsgidevError, ConfigError, LifespanStartupError, join_sentences
from asgidev.event_loop import loop_factory
from asgidev.options import Kind, Option, all_options, option_named
from asgidev.sources import Layers, read_layers

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


COMMAND_HELP = (
    "Serve an ASGI app for development, reloading it when code changes.\n\n"
    "APP is 'module:attribute' (e.g. mysite.asgi:application). Without APP, asgidev serves the Django project "
    "in the current directory, else the app it finds as 'fastapi dev' does (main.py, app.py, api.py, asgi.py, app/main.py... "
    "defining 'app' or 'application'), else a welcome page. "
    "ADDRPORT is runserver's optional [addr:]port: 8001, 0:8001, 0.0.0.0:9000, [::1]:8000; given alone "
    "('asgidev 8001') it is the address.\n\n"
    "Every option can also be set as an environment variable ASGIDEV_<OPTION> (ASGIDEV_PORT=9000, "
    "ASGIDEV_RELOAD_INCLUDE='*.yaml,*.toml') or as a key of [tool.asgidev] in pyproject.toml "
    "(port = 9000, reload-include = ['*.yaml']). The command line wins over the environment, "
    "which wins over pyproject.toml."
)


def _run(ctx: typer.Context, **values: Any) -> None:
    # The parameters are generated from Config (see _parameters); only what
    # the command line really set counts as given, so the environment and
    # pyproject.toml can fill in the rest.
    given: dict[str, Any] = {}
    for option in all_options():
        source = ctx.get_parameter_source(option.name)
        # By name: typer >= 0.28 vendors click, so its ParameterSource is not click's.
        if source is not None and source.name == "COMMANDLINE":
            value = values[option.name]
            given[option.name] = option.from_items(value) if option.kind is Kind.LIST else value
    app, addrport = split_positionals(values["app"], values["addrport"])
    if app is None:
        given.pop("app", None)  # 'asgidev 8001': the lone positional was the address
    try:
        config = build_config(given, addrport=addrport, layers=read_layers(os.environ, Path.cwd()))
        code = start(config)
    except AppImportError as exc:
        _print_error(exc)
        if exc.user_traceback:
            print(exc.user_traceback, file=sys.stderr, end="")
        raise typer.Exit(1) from None
    except AsgidevError as exc:
        _print_error(exc)
        if isinstance(exc, LifespanStartupError) and exc.details:
            print(exc.details, file=sys.stderr)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    raise typer.Exit(code)


def _parameters() -> list[inspect.Parameter]:
    """The command's parameters: APP and ADDRPORT, one option per Config field, --version."""
    keyword = inspect.Parameter.KEYWORD_ONLY

    def parameter(name: str, kind: Any, info: Any, default: Any) -> inspect.Parameter:
        return inspect.Parameter(name, keyword, default=default, annotation=Annotated[kind, info])

    app = option_named("app")
    params = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        parameter("app", str | None, typer.Argument(metavar="[APP]", help=app.help, show_default=False), None),
        parameter(
            "addrport",
            str | None,
            typer.Argument(metavar="[ADDRPORT]", help="Optional [addr:]port, as runserver's (default 127.0.0.1:8000).", show_default=False),
            None,
        ),
    ]
    for option in all_options():
        if not option.meta.is_positional:
            params.append(parameter(option.name, *_typer_option(option)))
    version = typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    params.append(parameter("version", bool, version, False))
    return params


def _typer_option(option: Option) -> tuple[Any, Any, Any]:
    """The Python type, typer.Option and default of one Config field's option."""
    kwargs: dict[str, Any] = {"help": option.help}
    if option.meta.metavar:
        kwargs["metavar"] = option.meta.metavar
    if option.kind is Kind.FLAG:
        switches = [f"{option.on_flags[0]}/{option.off_flags[0]}"] if option.off_flags else [option.on_flags[0]]
        switches += list(option.on_flags[1:]) + [f" /{flag}" for flag in option.off_flags[1:]]
        return bool, typer.Option(*switches, **kwargs), option.default
    if option.kind is Kind.LIST:
        shown = ",".join(str(item) for item in option.default)
        if shown:
            # In the help text: click would print a show_default string in parentheses, "(127.0.0.1)".
            kwargs["help"] = f"{option.help}  [default: {shown}]"
        return list[str] | None, typer.Option(*option.on_flags, show_default=False, **kwargs), None
    kind: Any = option.value_type | None if option.is_optional else option.value_type
    if option.kind is Kind.CHOICE:
        # Config checks the value: its message names the choices.
        kwargs["metavar"] = "[" + "|".join(option.choices) + "]"
    return kind, typer.Option(*option.on_flags, **kwargs), option.default


_run.__signature__ = inspect.Signature(_parameters())  # type: ignore[attr-defined]
cli.command(help=COMMAND_HELP)(_run)


def build_config(given: Mapping[str, Any], *, addrport: str | None = None, layers: Layers | None = None) -> Config:
    """One Config from the command line's ``given`` fields, ADDRPORT and the other sources' ``layers``.

    Raises:
        ConfigError: conflicting or invalid options, or a bad value in a source.
    """
    fields = dict(given)
    if addrport is not None:
        if "host" in given or "port" in given:
            raise ConfigError("Give the address either as ADDRPORT or with --host/--port, not both.")
        parsed = parse_addrport(addrport)
        if parsed.host is not None:
            fields["host"] = parsed.host
        fields["port"] = parsed.port
    if layers is not None:
        fields = layers.merged(fields)
    if "host" not in fields and fields.get("ipv6"):
        fields["host"] = "::1"
    return Config(**fields)


def start(config: Config) -> int:
    """Run the server as configured; returns the exit code."""
    from asgidev.log import configure_logging

    configure_logging(config)
    check_env_files(config)
    loop_factory(config.loop)  # --loop uvloop without uvloop: one line now, before anything is bound or started
    if config.reload:
        from asgidev.supervisor.supervisor import run_supervisor

        return run_supervisor(config)
    return _run_in_process(config)


def _run_in_process(config: Config) -> int:
    from asgidev.envfile import apply, env_file_paths
    from asgidev.runner import Owner, load_app, serve
    from asgidev.sockets import bind_sockets

    apply(env_file_paths(config))
    loaded = load_app(config)
    serve(config, loaded, bind_sockets(config), Owner())
    return 0


def _print_error(exc: AsgidevError) -> None:
    message = exc.message if exc.message.startswith("Error") else f"Error: {exc.message}"
    print(join_sentences(message, exc.hint), file=sys.stderr)


def main() -> None:
    """Console-script entry point."""
    cli()
