"""What the reloader watches: .gitignore, files the app writes, polling, the watched-roots line. Real files, real servers."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import httpx
from watchfiles import Change

from asgidev.config import Config
from asgidev.supervisor.watcher import reload_filter
from tests.server_process import ServerProcess, save_like_an_editor

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
        proc.wait_for_line(r"Reloaded in \d+ ms \(changed: sentinel\.py\)")
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
