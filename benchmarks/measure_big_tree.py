"""Watching a big project: idle CPU, how fast a change is seen, and reload time (issue 18).

A temporary git repository of 50,000 files: the app's own package (500
modules), ``node_modules`` (30,000 files), a ``.venv`` (15,000), and a
git-ignored ``build/`` (4,000). Each variant serves it with its reloader
on; once it answers, the CPU time of its whole process tree is measured over
an idle window, then a module is edited a few times and two times are taken
per edit: until the reloader says it saw the change (its log line, read from
its merged output as it arrives), and until the new code answers. Between the
two, files are written the way a running app writes them (a log, SQLite,
generated code in ``build/``, bytecode), and the reloads they cause counted.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import probe
from benchmarks.servers import stop

TREE_FILES = 50_000
IDLE_WINDOW_S = 5.0
# After the first answer: the worker's own start-up work is not idle time.
SETTLE_S = 1.0
EDIT_DEADLINE_S = 15.0
BETWEEN_EDITS_S = 0.5
# Files written the way apps write them (a log, SQLite, generated code in the
# git-ignored build/, bytecode), then this long for any reload they caused to show.
APP_WRITES = 200
AFTER_WRITES_S = 2.0
START_DEADLINE_S = 60.0

APP = """\
TOKEN = b"{token}"


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({{"type": "http.response.start", "status": 200, "headers": [(b"content-length", str(len(TOKEN)).encode())]}})
    await send({{"type": "http.response.body", "body": TOKEN}})
"""


@dataclass(frozen=True)
class Variant:
    name: str
    argv: Callable[[Path, int], list[str]]
    seen_line: re.Pattern[str]  # the reloader's "I saw a change" line


VARIANTS = (
    Variant(
        "asgidev (OS events)",
        lambda root, port: [sys.executable, "-m", "asgidev", "bigapp:app", "--port", str(port), "--no-access-log"],
        re.compile(r"Changed: "),
    ),
    Variant(
        "asgidev --reload-poll",
        lambda root, port: [sys.executable, "-m", "asgidev", "bigapp:app", "--port", str(port), "--no-access-log", "--reload-poll"],
        re.compile(r"Changed: "),
    ),
    Variant(
        "uvicorn --reload",
        lambda root, port: [sys.executable, "-m", "uvicorn", "bigapp:app", "--port", str(port), "--reload", "--no-access-log"],
        re.compile(r"detected changes"),
    ),
)


@dataclass
class Output:
    """A process's merged output, each line stamped with the perf_counter time it arrived."""

    lines: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def first_after(self, pattern: re.Pattern[str], since: float) -> float | None:
        with self.lock:
            return next((at for at, line in self.lines if at >= since and pattern.search(line)), None)


def build_tree(root: Path, files: int = TREE_FILES) -> int:
    """Write the project; returns the number of files written."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("build/\n")
    (root / "bigapp.py").write_text(APP.format(token="token-000"))
    parts = [("app", 500, 10, "py"), ("node_modules", 30_000, 10, "js"), (".venv/lib/python3.11/site-packages", 15_000, 10, "py")]
    parts.append(("build", files - 45_500 - 3, 10, "py"))
    written = 2
    for folder, count, per_dir, suffix in parts:
        for index in range(count):
            directory = root / folder / f"pkg{index // per_dir}"
            if index % per_dir == 0:
                directory.mkdir(parents=True, exist_ok=True)
            (directory / f"mod{index % per_dir}.{suffix}").write_text(f"X = {index}\n")
            written += 1
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return written + 1


def run_big_tree(servers: list[str], edits: int, log: Callable[[str], None]) -> tuple[list[dict[str, object]], list[str]]:
    samples: list[dict[str, object]] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="asgidev-bigtree-") as scratch:
        root = Path(scratch)
        files = build_tree(root)
        log(f"  tree: {files:,} files")
        for variant in VARIANTS:
            if variant.name.split()[0] not in {s.split("-")[0] for s in servers}:
                continue
            try:
                sample = _measure(variant, root, edits)
            except RuntimeError as exc:
                problems.append(f"big tree {variant.name}: {exc}")
                log(f"  ! {problems[-1]}")
                continue
            sample["files"] = files
            samples.append(sample)
            seen = sample["seen_ms"]
            log(
                f"  {variant.name:<24} idle CPU {sample['idle_cpu_percent']:.2f} %, change seen in {seen} ms, "
                f"served {sample['reload_ms']} ms, {sample['reloads_from_app_writes']} reloads from app writes"
            )
    return samples, problems


def _measure(variant: Variant, root: Path, edits: int) -> dict[str, object]:
    port = probe.free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("WATCHFILES_FORCE_POLLING", None)
    output = Output()
    (root / "bigapp.py").write_text(APP.format(token="token-000"))
    process = subprocess.Popen(
        variant.argv(root, port), cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    reader = threading.Thread(target=_read, args=(process, output), daemon=True)
    reader.start()
    try:
        _wait_for_token(port, "token-000", time.perf_counter() + START_DEADLINE_S, process)
        time.sleep(SETTLE_S)
        tree = probe.process_tree(process.pid)
        cpu_before, began = sum(_cpu(pid) for pid in tree), time.perf_counter()
        time.sleep(IDLE_WINDOW_S)
        idle = (sum(_cpu(pid) for pid in tree) - cpu_before) / (time.perf_counter() - began) * 100
        loops = _reloads_from_app_writes(root, output, variant.seen_line)
        seen_ms: list[float] = []
        reload_ms: list[float] = []
        for index in range(1, edits + 1):
            token = f"token-{index:03d}"
            written = time.perf_counter()
            (root / "bigapp.py").write_text(APP.format(token=token))
            _wait_for_token(port, token, written + EDIT_DEADLINE_S, process)
            reload_ms.append((time.perf_counter() - written) * 1e3)
            seen = output.first_after(variant.seen_line, written)
            if seen is not None:
                seen_ms.append((seen - written) * 1e3)
            time.sleep(BETWEEN_EDITS_S)
    finally:
        stop(process)
    return {
        "variant": variant.name,
        "idle_cpu_percent": round(idle, 2),
        "seen_ms": round(statistics.median(seen_ms)) if seen_ms else None,
        "reload_ms": round(statistics.median(reload_ms)),
        "edits": edits,
        "reloads_from_app_writes": loops,
    }


def _reloads_from_app_writes(root: Path, output: Output, seen_line: re.Pattern[str]) -> int:
    """Write what a running app writes under its project; how many reloads did that cause?"""
    import py_compile
    import sqlite3

    began = time.perf_counter()
    (root / "__pycache__").mkdir(exist_ok=True)
    with sqlite3.connect(root / "db.sqlite3") as db:
        db.execute("create table if not exists hits (n integer)")
        for index in range(APP_WRITES):
            with open(root / "app.log", "a") as log:
                log.write(f"request {index}\n")
            db.execute("insert into hits values (?)", (index,))
            db.commit()
            generated = root / "build" / f"generated_{index % 20}.py"
            generated.write_text(f"VERSION = {index}\n")
            py_compile.compile(str(generated), cfile=str(root / "__pycache__" / f"generated_{index % 20}.pyc"))
    time.sleep(AFTER_WRITES_S)
    with output.lock:
        return sum(1 for at, line in output.lines if at >= began and seen_line.search(line))


def _read(process: subprocess.Popen[str], output: Output) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        with output.lock:
            output.lines.append((time.perf_counter(), line))


def _wait_for_token(port: int, token: str, deadline: float, process: subprocess.Popen[str]) -> None:
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        try:
            if token.encode() in probe.fetch(port, "/", timeout=EDIT_DEADLINE_S).body:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    raise RuntimeError(f"{token} not served in time")


def _cpu(pid: int) -> float:
    try:
        return probe.cpu_seconds(pid)
    except (OSError, IndexError):
        return 0.0  # gone meanwhile (uvicorn's reloader restarts its worker)
