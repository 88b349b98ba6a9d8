"""What the reloader watches: .gitignore, files the app writes, polling, the watched-roots line. Real files, real servers."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import httpx
import pytest
from watchfiles import Change

from asgidev.config import Config
from asgidev.supervisor.poller import Poller
from asgidev.supervisor.watch_mode import MOUNTINFO, POLLED_FILESYSTEMS, filesystem_type, parse_mountinfo
from asgidev.supervisor.watcher import reload_filter
from tests.server_process import ServerProcess, save_like_an_editor

WATCH_LIMIT_FILE = "/proc/sys/user/max_inotify_watches"


def clean_env() -> dict[str, str]:
    """This environment without WATCHFILES_FORCE_POLLING (which would choose polling)."""
    env = {k: v for k, v in os.environ.items() if k != "WATCHFILES_FORCE_POLLING" and not k.startswith("ASGIDEV_")}
    return {**env, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}


# An app that, on every request, writes what apps write under their project:
# logs, a SQLite database, uploads, generated code (in a git-ignored folder) and bytecode.
WRITER = textwrap.dedent(
    """
    import os, py_compile, sqlite3

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        n = len(os.listdir("uploads"))
        with open("app.log", "a") as log:
            log.write(f"request {n}\\n")
        with sqlite3.connect("db.sqlite3") as db:
            db.execute("create table if not exists hits (n integer)")
            db.execute("insert into hits values (?)", (n,))
        with open(f"uploads/photo-{n}.jpg", "wb") as upload:
            upload.write(b"\\xff\\xd8" * 100)
        with open(f"generated/schema_{n}.py", "w") as generated:
            generated.write(f"VERSION = {n}\\n")
        py_compile.compile(f"generated/schema_{n}.py", cfile=f"build/schema_{n}.pyc")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(n).encode()})
    """
)


def git_init(directory: Path, ignore: str) -> None:
    subprocess.run(["git", "init", "-q", str(directory)], check=True)
    (directory / ".gitignore").write_text(ignore)


def test_files_the_app_writes_never_reload(tmp_path: Path) -> None:
    git_init(tmp_path, "generated/\nbuild/\n*.log\n")
    (tmp_path / "writer.py").write_text(WRITER)
    (tmp_path / "sentinel.py").write_text("X = 1\n")
    for name in ("uploads", "generated", "build"):
        (tmp_path / name).mkdir()
    proc = ServerProcess.asgidev(["writer:app", "--port", "0"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        with httpx.Client() as client:
            for n in range(30):
                assert client.get(url).text == str(n)
        # Changes reach the reloader in order: once the sentinel's reload is
        # logged, every write before it has been seen (and must have been ignored).
        save_like_an_editor(tmp_path / "sentinel.py", "X = 2\n")
        proc.wait_for_line(r"Reloaded in \d+ ms \(changed: sentinel\.py[;)]")
        assert proc.count(r"Reloaded in") == 1
        assert [line.split("] ", 1)[1] for line in proc.lines if "Changed:" in line] == ["Changed: sentinel.py. Reloading."]
    finally:
        proc.stop()


def test_gitignore_rules_nested_and_negated(tmp_path: Path) -> None:
    git_init(tmp_path, "build/\n*_pb2.py\nlocal/*\n!local/keep.py\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".gitignore").write_text("cache.py\n")
    (tmp_path / "src").mkdir()
    check = reload_filter(Config(app_dir=str(tmp_path)))

    def reloads(relative: str) -> bool:
        return check(Change.modified, str(tmp_path / relative))

    assert reloads("app.py")
    assert reloads("pkg/views.py")
    assert not reloads("build/gen.py")
    assert not reloads("api_pb2.py")
    assert not reloads("pkg/cache.py")
    assert reloads("cache.py")  # pkg/.gitignore covers pkg/ only
    assert not reloads("local/other.py")
    assert reloads("local/keep.py")
    assert not check(Change.modified, str(tmp_path))  # the root itself: polling reports directories
    # .env is often git-ignored, and is still re-read on change.
    (tmp_path / ".gitignore").write_text(".env\n*.py\n")
    check = reload_filter(Config(app_dir=str(tmp_path), reload_includes=("special.py",)))
    assert check(Change.modified, str(tmp_path / ".env"))
    # An explicit --reload-include wins over .gitignore.
    assert check(Change.modified, str(tmp_path / "special.py"))
    assert not check(Change.modified, str(tmp_path / "other.py"))


def test_gitignore_edit_takes_effect(tmp_path: Path) -> None:
    git_init(tmp_path, "")
    check = reload_filter(Config(app_dir=str(tmp_path)))
    assert check(Change.modified, str(tmp_path / "gen.py"))
    save_like_an_editor(tmp_path / ".gitignore", "gen.py\n")
    check(Change.modified, str(tmp_path / ".gitignore"))
    assert not check(Change.modified, str(tmp_path / "gen.py"))


APP = 'async def app(scope, receive, send):\n    await send({"type": "http.response.start", "status": 200, "headers": []})\n    await send({"type": "http.response.body", "body": b"%s"})\n'


def test_reload_poll_names_roots_interval_and_rules(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP % "v1")
    proc = ServerProcess.asgidev(["app:app", "--port", "0", "--reload-poll", "--log-level", "debug"], cwd=tmp_path)
    try:
        url = proc.wait_started()
        proc.wait_for_line(rf"^Watching for file changes in {re.escape(str(tmp_path.resolve()))} \(polling every 300 ms: --reload-poll\)$")
        proc.wait_for_line(r"Ignoring changes in directories named .*node_modules.*\.gitignore")
        save_like_an_editor(tmp_path / "app.py", APP % "v2")
        proc.wait_for_line(r"Reloaded in \d+ ms \(changed: app\.py[;)]")
        assert httpx.get(url).text == "v2"
    finally:
        proc.stop()


def test_os_events_by_default(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP % "v1")
    proc = ServerProcess.asgidev(["app:app", "--port", "0"], cwd=tmp_path, env=clean_env())
    try:
        proc.wait_started()
        proc.wait_for_line(rf"^Watching for file changes in {re.escape(str(tmp_path.resolve()))} \(OS file events\)$")
        assert proc.count("Ignoring changes") == 0  # debug only
    finally:
        proc.stop()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare(1) for a user namespace")
def test_inotify_watch_limit_falls_back_to_polling(tmp_path: Path) -> None:
    # A user namespace has its own inotify budget, so the limit can be lowered
    # for this server alone, without touching the machine's.
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "sh", "-c", f"echo 20 > {WATCH_LIMIT_FILE}"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot lower the inotify limit in a user namespace: {probe.stderr.decode().strip()}")
    for n in range(40):
        (tmp_path / f"pkg{n}").mkdir()
    (tmp_path / "pkg39" / "mod.py").write_text("X = 1\n")
    (tmp_path / "app.py").write_text(APP % "v1")
    script = f'echo 20 > {WATCH_LIMIT_FILE} && exec "$0" -m asgidev app:app --port 0'
    launcher = f"import os, sys; os.execvp('unshare', ['unshare', '--user', '--map-root-user', 'sh', '-c', {script!r}, sys.executable])"
    proc = ServerProcess(["-c", launcher], cwd=tmp_path, env=clean_env())
    try:
        proc.wait_started()
        proc.wait_for_line(
            r"Warning: the system's limit on inotify watches is reached, so asgidev polls .*sudo sysctl fs\.inotify\.max_user_watches="
        )
        save_like_an_editor(tmp_path / "pkg39" / "mod.py", "X = 2\n")
        proc.wait_for_line(r"Reloaded in \d+ ms \(changed: pkg39/mod\.py[;)]")
        assert proc.count("inotify watches is reached") == 1
    finally:
        proc.stop()


def test_filesystems_without_events_are_polled() -> None:
    mounts = parse_mountinfo(Path(MOUNTINFO).read_text())
    assert filesystem_type(Path("/proc/self"), mounts) == "proc"
    # proc(5)'s format, as WSL2 shows its Windows drive.
    wsl = parse_mountinfo("36 35 0:52 / /mnt/c rw,noatime shared:1 - 9p drvfs rw,dirsync,aname=drvfs\n29 1 8:1 / / rw - ext4 /dev/sdb rw\n")
    assert filesystem_type(Path("/mnt/c/Users/me/site"), wsl) == "9p" and "9p" in POLLED_FILESYSTEMS
    assert filesystem_type(Path("/home/me/site"), wsl) == "ext4" and "ext4" not in POLLED_FILESYSTEMS


def test_poller_sees_two_saves_within_one_second(tmp_path: Path) -> None:
    # watchfiles' own poller compares whole-second mtimes and would miss the second save.
    (tmp_path / "app.py").write_text("X = 1\n")
    (tmp_path / "node_modules").mkdir()

    async def two_saves() -> list[set[tuple[Change, str]]]:
        poller = Poller([tmp_path], reload_filter(Config(app_dir=str(tmp_path))), interval_s=0.05)
        seen = []
        for text in ("X = 2\n", "X = 3\n"):
            (tmp_path / "app.py").write_text(text)
            (tmp_path / "node_modules" / "dep.py").write_text(text)
            seen.append(await asyncio.wait_for(anext(poller), 10))
        return seen

    assert asyncio.run(two_saves()) == [{(Change.modified, str(tmp_path / "app.py"))}] * 2


APP_SAYING = """
async def app(scope, receive, send):
    if scope["type"] == "http":
        await send({{"type": "http.response.start", "status": 200, "headers": []}})
        await send({{"type": "http.response.body", "body": b"{text}"}})
"""


def test_watcher_failing_is_said_in_one_line_and_serving_goes_on(tmp_path: Path) -> None:
    """The watcher runs in the supervisor's task group: when it fails (a watched directory removed), that is
    one line, with the reason and no traceback; the server serves on and still stops cleanly on Ctrl-C."""
    project, watched = tmp_path / "project", tmp_path / "watched"
    project.mkdir()
    watched.mkdir()
    (project / "main.py").write_text(APP_SAYING.format(text="served"))
    (watched / "helpers.py").write_text("X = 1\n")
    # The project is watched too, so the worker has no directory to add (which would restart the watcher).
    args = ["main:app", "--port", "0", "--reload-dir", str(project), "--reload-dir", str(watched)]
    proc = ServerProcess.asgidev(args, cwd=project, env=clean_env())
    try:
        url = proc.wait_started()
        proc.wait_for_line(rf"Watching for file changes in {re.escape(str(project.resolve()))}, {re.escape(str(watched.resolve()))}")
        shutil.rmtree(watched)
        # The reason is ours ("the watched directory ... was removed") or, when the OS notices first, watchfiles'.
        proc.wait_for_line(r"ERROR: File watching stopped \(.+\): code changes no longer reload the server\.")
        assert httpx.get(url).text == "served"
    finally:
        code = proc.stop()
    assert code == 0, proc.output
    assert proc.count(r"File watching stopped|Cannot watch files") == 1, proc.output
    assert "Traceback" not in proc.output
