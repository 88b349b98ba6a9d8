"""The worker process: imports the user's app and serves it on sockets the supervisor bound.

Started as ``python -m asgidev.supervisor.worker`` with its configuration and
file descriptors in the environment (see ``Supervisor._spawn``); it waits as a spare until told GO. If the
app does not import, the worker still serves: every request gets the error
page with the traceback, until the supervisor replaces it after the fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import sys
import time
from typing import TYPE_CHECKING

from asgidev.builtin_apps import broken_code_app
from asgidev.config import Config
from asgidev.envfile import apply as apply_env_files
from asgidev.envfile import env_file_paths
from asgidev.errors import AppImportError, join_sentences
from asgidev.loaded_app import LoadedApp
from asgidev.log import configure_logging
from asgidev.runner import Owner, finish_load, load_app, serve
from asgidev.server.server import Server
from asgidev.server.signals import install_loop_error_handler
from asgidev.supervisor.control import (
    ENV_CONTROL_FD,
    ChannelClosedError,
    ControlChannel,
    GoOptions,
    Kind,
    Message,
    WarmRequest,
    config_from_json,
)
from asgidev.supervisor.prepared import Prepared, prepare
from asgidev.supervisor.seed import fork_seed
from asgidev.supervisor.warm import WarmState, learn

if TYPE_CHECKING:
    from asgidev.livereload.middleware import LiveReload

# The fix for an APP that names nothing: the command line, or the file it should name.
COMMAND_LINE_HINT = "Check APP on the command line (module:attribute, e.g. main:app), or create it: asgidev loads it once it is saved."
# How long a stopping worker waits for connections it was still adopting (they take a loop turn or two).
ADOPTION_WAIT_S = 1.0
# Connections being adopted from a previous worker (kept referenced until done).
_adoptions: set[asyncio.Future[None]] = set()
# After serving starts, the warm set is reported at these delays (again only if
# more modules were imported meanwhile), and once more on STOP. Not at once: the
# listing takes ~10 ms, which the requests queued during a reload must not wait
# for. The supervisor passes each report on to the spare, which starts about
# then (SPARE_DELAY_S). Frameworks import much on the first requests (Django's
# URLconf, admin, templates), which the next spare should have too.
MODULE_REPORT_DELAYS_S = (0.1, 1.0, 5.0)
# How much lower a retiring worker's priority goes (nice(2) adds it; 19 is the
# lowest): requests it still finishes run at full speed on an idle core.
RETIRING_NICENESS = 10


def _load(config: Config, go: GoOptions, prepared: Prepared | None) -> LoadedApp:
    """The app to serve (finishing the set-up ``prepared`` in advance, if given), or the error page explaining why it cannot be."""
    label = config.app or "the app"
    if go.crash_report:
        page = broken_code_app("The server worker crashed", go.crash_report, "", "asgidev restarts it when you save a file, or shortly.")
        return LoadedApp(page, label, is_error_page=True)
    try:
        return finish_load(prepared.loaded) if prepared is not None else load_app(config)
    except AppImportError as exc:
        if exc.is_path_error:
            # Nothing in the user's code is wrong: APP names something that is not there.
            hint = join_sentences(exc.hint, COMMAND_LINE_HINT)
            page = broken_code_app("The app named on the command line was not found", exc.message, "", hint)
            return LoadedApp(page, label, is_error_page=True, problem=join_sentences(exc.message, hint))
        page = broken_code_app("Your code could not be loaded", exc.message, exc.user_traceback, exc.hint)
        return LoadedApp(page, label, is_error_page=True, problem=f"{exc.message}\n{exc.user_traceback.rstrip()}")


class _WorkerOwner(Owner):
    """A reload worker in ``runner.serve``: the supervisor stops it (STOP, or SIGTERM) and hears when it serves."""

    is_reloading = True

    def __init__(self, control: ControlChannel, go: GoOptions, ready_note: bytes) -> None:
        self.control = control
        self.ready_note = ready_note
        self.watch_roots = go.watch_roots
        self.print_banner = go.print_banner
        self.reporter = _ModuleReporter(control, go.watch_roots)
        self.handoff = functools.partial(_hand_back, control)

    def before_start(self, server: Server) -> None:
        # Ctrl+C and a hang-up are the supervisor's (ignored here: see run_worker); SIGTERM
        # is handled once serving (on_serving), so a worker stuck in startup still dies of it.
        pass

    def on_serving(self, server: Server, live: LiveReload | None, loaded: LoadedApp) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, server.request_shutdown)
        install_loop_error_handler()
        loop.add_reader(self.control.fileno(), _on_control, self.control, server, live)
        if not loaded.is_error_page:
            _report_imported_roots(self.control, self.watch_roots)
        self.control.send(Kind.BROKEN if loaded.is_error_page else Kind.READY, self.ready_note)
        for delay in MODULE_REPORT_DELAYS_S:
            loop.call_later(delay, self.reporter.report)

    def before_shutdown(self) -> None:
        self.reporter.report()

    async def after_shutdown(self) -> None:
        if _adoptions:
            # A connection handed to us just before STOP: let it reach connection_made,
            # which hands it straight back, rather than dying with this process.
            await asyncio.wait(set(_adoptions), timeout=ADOPTION_WAIT_S)
        asyncio.get_running_loop().remove_reader(self.control.fileno())


class _ModuleReporter:
    """Tells the supervisor which installed modules this worker has imported, each time the set grew."""

    def __init__(self, control: ControlChannel, roots: tuple[str, ...]) -> None:
        self.control = control
        self.roots = roots
        self.reported_count = 0

    def report(self) -> None:
        if len(sys.modules) == self.reported_count:
            return
        self.reported_count = len(sys.modules)
        with contextlib.suppress(OSError):
            self.control.send(Kind.MODULES, json.dumps(learn(self.roots)).encode())
        # Code imported on the first requests counts too (the supervisor ignores roots it watches already).
        _report_imported_roots(self.control, self.roots)


def _report_imported_roots(control: ControlChannel, watched: tuple[str, ...]) -> None:
    """Tell the supervisor which imported code lies outside the watched roots and site-packages (it watches it too)."""
    from asgidev.supervisor.imported_roots import imported_roots

    roots = imported_roots(watched)
    if roots:
        with contextlib.suppress(OSError):
            control.send(Kind.ROOTS, json.dumps(roots).encode())


def _on_control(control: ControlChannel, server: Server, live: LiveReload | None) -> None:
    try:
        messages = control.receive_available()
    except (ChannelClosedError, OSError):
        # The supervisor is gone (killed?): nobody will restart or stop us, so leave now.
        server.request_shutdown()
        return
    for message in messages:
        if message.kind == Kind.STOP:
            _yield_the_cpu()
            server.request_shutdown()
        elif message.kind == Kind.ASSETS and live is not None:
            live.notify_assets(json.loads(message.payload))
        elif message.kind == Kind.APPLY:
            is_applied = _apply_in_place(json.loads(message.payload))
            with contextlib.suppress(OSError):
                control.send(Kind.APPLIED if is_applied else Kind.RESTART)
            if is_applied and live is not None:
                live.notify_reload()
        elif message.kind == Kind.CONN and message.fds:
            sock = socket.socket(fileno=message.fds[0])
            sock.setblocking(False)
            task = asyncio.ensure_future(server.adopt_connection(sock, message.payload))
            _adoptions.add(task)
            task.add_done_callback(_adoptions.discard)


def _yield_the_cpu() -> None:
    """Let the worker taking over have the CPU first: what a retiring worker does next is never urgent.

    Its last steps (the final module report, closing connections, an
    interpreter's teardown of a framework's objects: tens of ms for FastAPI or
    Django) would otherwise share a core with the new worker's first requests.
    """
    with contextlib.suppress(OSError):
        os.nice(RETIRING_NICENESS)


def _apply_in_place(paths: list[str]) -> bool:
    """Let a Django app pick up template/translation edits without a restart; False: restart instead."""
    if "django" not in sys.modules:
        return False
    from asgidev.django.reload import apply_in_place

    return apply_in_place(paths)


def _hand_back(control: ControlChannel, fd: int, pending: bytes) -> None:
    try:
        control.send(Kind.CONN, pending, [fd])
    except OSError:
        pass  # the supervisor is gone; closing the fd below ends the connection
    finally:
        os.close(fd)


def main() -> None:
    """Entry point of a worker started as ``python -m asgidev.supervisor.worker``."""
    sys.exit(run_worker(socket.socket(fileno=int(os.environ.pop(ENV_CONTROL_FD)))))


def run_worker(control_socket: socket.socket) -> int:
    """Be a worker on this control socket (a fresh interpreter, or forked early: see spawn.py)."""
    # Ctrl+C and a terminal's hang-up reach the whole process group; the
    # supervisor decides what they mean (stop, or reload for a deliberate kill -HUP).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    control = ControlChannel(control_socket)
    # A worker starts as a spare: Python and asgidev are loaded, the user's code
    # is not. While it waits, WARM tells it which installed modules the app
    # needs (see warm.py); the supervisor says GO, with the configuration and the
    # listening sockets, when a change needs a fresh worker: every reload is
    # spared the interpreter's start-up and the framework's imports.
    warm = WarmState()
    # Warming imports modules before the app's set-up, which a cold start never does; what that makes
    # Python report as "Exception ignored in ..." (Django's LazySettings, unconfigured) is warming's, not the app's.
    unraisable_hook, sys.unraisablehook = sys.unraisablehook, _ignore
    prepared: Prepared | str = ""  # the set-up run in advance (prepared.py), or why there is none
    wants_seeds = False  # the supervisor asked for the set-up in advance, and so for seeds (seed.py)
    while True:
        while (message := control.wait_message()) is not None and message.kind is Kind.WARM:
            request = WarmRequest.decode(message.payload)
            if warm.failed or isinstance(prepared, Prepared) or prepared.startswith(_DIRTY):
                # Set aside (see warm.py), or past its set-up: it waits for GO or its end (the seed warms these).
                continue
            wants_seeds = bool(request.config)
            # Every WARM names the env files; applying them again sets nothing new (set variables win).
            warm.apply_env_files(request.env_files)
            is_interrupted = _never if request.finish else functools.partial(control.has_waiting_message, besides=Kind.WARM)
            if request.checkpoint:
                warm.warm(request.modules[: request.checkpoint], request.watch_roots, is_interrupted)
                if not warm.failed and not is_interrupted() and isinstance(seed := fork_seed(control), ControlChannel):
                    control = seed  # this process is the checkpoint: it waits, the spare imports the rest
                    continue
            warm.warm(request.modules[request.checkpoint :], request.watch_roots, is_interrupted)
            with contextlib.suppress(OSError):
                report = {"modules": warm.imported, "ms": round(warm.milliseconds), "failed": warm.failed}
                control.send(Kind.WARMED, json.dumps(report).encode())
            if wants_seeds and not warm.failed and not control.has_waiting_message():
                # Only with a seed: without one, a set-up that turns out stale would leave a fresh interpreter to serve.
                seed = fork_seed(control)
                if isinstance(seed, ControlChannel):
                    control = seed  # this process is the seed: a warm spare, from before any set-up
                elif seed:
                    sys.unraisablehook = unraisable_hook  # the app's own set-up: reported as in a cold start
                    outcome = prepare(request)
                    if isinstance(outcome, Prepared):
                        prepared, said = outcome, f"{outcome.milliseconds:.0f} ms"
                    else:
                        prepared = said = f"{_DIRTY}{outcome}"
                    with contextlib.suppress(OSError):
                        control.send(Kind.PREPARED, said.encode())
        if message is None or message.kind is not Kind.GO:
            return 0
        unfit = warm.unfit_reason()
        if unfit is None and isinstance(prepared, Prepared):
            stale = prepared.unfit_reason(GoOptions.decode(message.payload))
            unfit = None if stale is None else f"The set-up run in advance is stale: {stale}"
        elif unfit is None and isinstance(prepared, str) and prepared.startswith(_DIRTY):
            unfit = prepared
        if unfit is None and wants_seeds and not prepared and not warm.failed:
            # GO came before the set-up ran in advance (while warming, say): leave a seed before loading the app
            # after GO, so that the next spare is warm and prepares, rather than a fresh interpreter (a fork: ~10 ms).
            seed = fork_seed(control)
            if isinstance(seed, ControlChannel):
                for fd in message.fds:  # the listening sockets are the worker's, never the seed's
                    os.close(fd)
                control = seed
                continue
        break
    sys.unraisablehook = unraisable_hook
    if unfit is not None:
        # Serving now could differ from a cold start: decline, and the supervisor starts a cold worker.
        for fd in message.fds:
            os.close(fd)
        with contextlib.suppress(OSError):
            control.send(Kind.STALE, unfit.encode())
        return 0
    return _serve_go(control, message, prepared if isinstance(prepared, Prepared) else None)


def _ignore(unraisable: object) -> None:
    pass


def _never() -> bool:
    return False


# A set-up was tried in advance and not kept: the process ran part of it, so it must not serve.
_DIRTY = "The set-up could not run in advance: "


def _serve_go(control: ControlChannel, message: Message, prepared: Prepared | None) -> int:
    """Serve as GO says, from the set-up ``prepared`` in advance or from scratch."""
    go = GoOptions.decode(message.payload)
    config = config_from_json(go.config)
    if prepared is None:
        configure_logging(config)  # a prepared spare did, before its set-up
    else:
        prepared.held.release()
    # Read now, not when the spare started: the file may have changed since, and that may be why we are here.
    apply_env_files(env_file_paths(config))
    sockets = [socket.socket(fileno=fd) for fd in message.fds]
    for sock in sockets:
        sock.setblocking(False)
    # Loaded before the event loop starts, as with --no-reload: code that runs
    # at import (Django's database access in urls.py, say) must not find itself
    # inside a running loop.
    began = time.perf_counter()
    loaded = _load(config, go, prepared)
    setup_ms = (time.perf_counter() - began) * 1000 + (prepared.milliseconds if prepared is not None else 0)
    note = {"prepared": prepared is not None, "setup_ms": round(setup_ms), "django": _is_django_project()}
    serve(config, loaded, sockets, _WorkerOwner(control, go, json.dumps(note).encode()))
    return 0


def _is_django_project() -> bool:
    """Whether the app's set-up is Django's (whose set-up a spare can run in advance: prepared.py)."""
    django_conf = sys.modules.get("django.conf")
    return django_conf is not None and bool(django_conf.settings.configured)


if __name__ == "__main__":
    main()
