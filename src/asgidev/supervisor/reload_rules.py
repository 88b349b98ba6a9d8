"""What counts as a code change: the rules handed to watchfiles (and to the poller).

Semantics (documented in docs/reloading.md):
- Roots: every ``--reload-dir``, else the app directory.
- A change triggers a reload when the file is an ``--env-file`` (or the
  default ``.env``), or matches an ``--reload-include`` glob, or matches a
  default pattern (``*.py``, ``*.pyi``, ``*.mo``, ``.env``/``.env.*``, and
  ``*.html``/``*.txt`` inside a ``templates`` directory) and is not ignored by
  the project's git (see ``gitignore.py``); and in every case it matches no
  ``--reload-exclude`` glob and lies in no ignored directory.
- Globs match the path relative to its root (``app/*.yaml``) or the file name (``*.yaml``).
- Excludes win over includes.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from pathlib import Path

from watchfiles import BaseFilter, Change

from asgidev.supervisor.gitignore import GITIGNORE, GitIgnore

DEFAULT_INCLUDES = ("*.py", "*.pyi", "*.mo")
# Dotenv files, re-read by every new worker (envfile.py); usually git-ignored, so matched before .gitignore.
ENV_PATTERNS = (".env", ".env.*")
# With --live-reload, stylesheet edits are watched too, and swapped in open pages without a restart.
ASSET_PATTERNS = ("*.css",)
TEMPLATE_PATTERNS = ("*.html", "*.txt")
# Directories whose contents never trigger a reload: VCS data, virtualenvs,
# caches, dependencies, and places apps write to at run time.
IGNORED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        "node_modules",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "site-packages",
        ".idea",
        ".vscode",
        "media",
    }
)
# Editor swap, backup and lock files (vim, emacs, JetBrains), and vim's write test file.
IGNORED_FILES = ("*.swp", "*.swx", "*.swo", "*~", ".#*", "#*#", "4913", "*.tmp", "*___jb_tmp___", "*___jb_old___")


class ReloadFilter(BaseFilter):
    """Decides which changed paths trigger a reload."""

    def __init__(
        self,
        roots: Sequence[Path],
        includes: Sequence[str] = (),
        excludes: Sequence[str] = (),
        *,
        with_assets: bool = False,
        env_files: Sequence[Path] = (),
    ) -> None:
        super().__init__()
        self.roots = [r.resolve() for r in roots]
        self.defaults = (*DEFAULT_INCLUDES, *(ASSET_PATTERNS if with_assets else ()))
        self.includes = tuple(includes)
        self.excludes = (*IGNORED_FILES, *excludes)
        self.env_files = frozenset(str(path.resolve()) for path in env_files)
        self.gitignore = GitIgnore(self.roots)

    def __call__(self, change: Change, path: str) -> bool:
        relative = self._relative(path)
        parts = relative.split("/")
        if any(part in IGNORED_DIRS for part in parts[:-1]) or _is_virtualenv_path(parts):
            return False
        name = parts[-1]
        if name == GITIGNORE:
            # Not code, but it changes what counts as code from now on.
            self.gitignore.forget(Path(path))
            return False
        if any(_matches(relative, name, pattern) for pattern in self.excludes):
            return False
        # What the user named explicitly wins over .gitignore (a git-ignored .env is still re-read).
        if path in self.env_files or any(_matches(relative, name, pattern) for pattern in (*ENV_PATTERNS, *self.includes)):
            return True
        if self.gitignore.is_ignored(Path(path)):
            return False
        if any(_matches(relative, name, pattern) for pattern in self.defaults):
            return True
        return "templates" in parts[:-1] and any(fnmatch.fnmatch(name, p) for p in TEMPLATE_PATTERNS)

    def is_ignored_dir(self, path: str) -> bool:
        """A directory whose contents can never trigger a reload, so a poller need not enter it."""
        name = os.path.basename(path)
        if name in IGNORED_DIRS or os.path.exists(os.path.join(path, "pyvenv.cfg")):
            return True
        # A git-ignored directory may still hold something named explicitly: enter it then.
        if self.includes or any(env.startswith(path + os.sep) for env in self.env_files):
            return False
        return self.gitignore.is_ignored(Path(path), is_dir=True)

    def describe(self) -> str:
        """The ignore rules, for ``--log-level debug``."""
        rules = [
            "Ignoring changes in directories named " + ", ".join(sorted(IGNORED_DIRS)) + " and in virtualenvs",
            "files matching " + ", ".join(self.excludes),
            "and what the project's .gitignore files ignore (besides --reload-include globs and env files)",
        ]
        return "; ".join(rules) + "."

    def _relative(self, path: str) -> str:
        for root in self.roots:
            try:
                return Path(path).relative_to(root).as_posix()
            except ValueError:
                continue
        return Path(path).as_posix().lstrip("/")


def _matches(relative: str, name: str, pattern: str) -> bool:
    return fnmatch.fnmatch(name, pattern) or fnmatch.fnmatch(relative, pattern)


def _is_virtualenv_path(parts: list[str]) -> bool:
    # Any virtualenv, whatever its name, has lib/pythonX.Y/site-packages or pyvenv.cfg at its root.
    return "site-packages" in parts or "dist-packages" in parts
