"""The project's git ignore rules, for the reload filter: what git ignores never triggers a reload.

Rules come from ``.gitignore`` files (each applies below its own directory,
deeper files winning, ``!`` re-including), ``.git/info/exclude`` and the
user's global ``~/.config/git/ignore``, matched with pathspec's
implementation of git's wildmatch. They are read lazily, one directory at a
time as changed paths ask for them, so a big tree costs nothing at start, and
a ``.gitignore`` is read again after it changes. The rules apply from the
repository's top (found upwards from each watched root), or from the watched
root when there is no repository. Asking git itself (``git check-ignore``)
would cost a process per batch of changes and need git installed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pathspec

GITIGNORE = ".gitignore"


class GitIgnore:
    """Answers "does git ignore this path?" for paths under the watched roots."""

    def __init__(self, roots: Sequence[Path]) -> None:
        self._tops = {root: _repository_top(root) or root for root in roots}
        self._specs: dict[Path, pathspec.GitIgnoreSpec | None] = {}
        # Lowest priority first: the global file, then the repository's own excludes.
        self._base: list[tuple[Path, pathspec.GitIgnoreSpec]] = []
        for top in sorted(set(self._tops.values())):
            for path in (_global_excludes(), top / ".git" / "info" / "exclude"):
                spec = _read_spec(path) if path else None
                if spec is not None:
                    self._base.append((top, spec))

    def is_ignored(self, path: Path, *, is_dir: bool = False) -> bool:
        """Whether git would ignore ``path`` (an absolute path below one of the roots)."""
        top = self._top_of(path)
        if top is None or path == top:  # a root itself changes (polling reports directories too)
            return False
        decision: bool | None = None
        for base, base_spec in self._base:
            if base == top:
                decision = _decide(base_spec, path, base, decision, is_dir)
        parts = path.parent.relative_to(top).parts
        # From the top down: a deeper .gitignore overrides a shallower one, as in git.
        for directory in (top.joinpath(*parts[:depth]) for depth in range(len(parts) + 1)):
            spec = self._spec_of(directory)
            if spec is not None:
                decision = _decide(spec, path, directory, decision, is_dir)
        return bool(decision)

    def forget(self, path: Path) -> None:
        """A ``.gitignore`` changed: read it again when next needed."""
        if path.name == GITIGNORE:
            self._specs.pop(path.parent, None)

    def describe(self) -> list[str]:
        """The rule files read so far, for ``--log-level debug``."""
        files = [str(directory / GITIGNORE) for directory, spec in self._specs.items() if spec is not None]
        return sorted(files)

    def _top_of(self, path: Path) -> Path | None:
        for root, top in self._tops.items():
            if path.is_relative_to(root):
                return top
        return None

    def _spec_of(self, directory: Path) -> pathspec.GitIgnoreSpec | None:
        if directory not in self._specs:
            self._specs[directory] = _read_spec(directory / GITIGNORE)
        return self._specs[directory]


def _decide(spec: pathspec.GitIgnoreSpec, path: Path, base: Path, decision: bool | None, is_dir: bool) -> bool | None:
    # A trailing slash is how a directory-only pattern ('build/') knows it is looking at a directory.
    result = spec.check_file(path.relative_to(base).as_posix() + ("/" if is_dir else ""))
    return decision if result.include is None else result.include


def _read_spec(path: Path) -> pathspec.GitIgnoreSpec | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:  # none here (the usual case), or unreadable: no rules
        return None
    return pathspec.GitIgnoreSpec.from_lines(text.splitlines())


def _repository_top(root: Path) -> Path | None:
    for directory in (root, *root.parents):
        if (directory / ".git").exists():
            return directory
    return None


def _global_excludes() -> Path | None:
    # git's default core.excludesFile; a custom one is set in git config, which we do not run git to read.
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    path = Path(base, "git", "ignore")
    return path if path.is_file() else None
