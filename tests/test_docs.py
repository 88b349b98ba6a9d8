"""The documentation stays true to the repository: links resolve, and cli.md names only real options."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

# Pages other engineers are writing; links to them may dangle until they land.
PENDING_PAGES = frozenset({"django.md", "websockets.md", "benchmarks.md", "security.md", "live-reload.md"})

# [text](target) and [text](target "title"), not images; the target up to whitespace or ')'.
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def relative_links(path: Path) -> list[str]:
    """Link targets in ``path`` that point into the repository (no scheme, no pure anchor)."""
    text = INLINE_CODE.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))
    targets = []
    for target in LINK.findall(text):
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target) or target.startswith("#"):
            continue
        targets.append(target.split("#", 1)[0])
    return targets


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    dangling = []
    for target in relative_links(path):
        resolved = (path.parent / target).resolve()
        if resolved.exists():
            continue
        if resolved.parent == DOCS and resolved.name in PENDING_PAGES:
            continue
        dangling.append(target)
    assert not dangling, f"{path.relative_to(ROOT)} links to missing files: {dangling}"


def test_cli_doc_options_exist() -> None:
    """Every --option that docs/cli.md mentions is one `python -m asgidev --help` lists."""
    documented = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", (DOCS / "cli.md").read_text(encoding="utf-8")))
    result = subprocess.run([sys.executable, "-m", "asgidev", "--help"], capture_output=True, text=True, timeout=30, check=True)
    listed = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", result.stdout))
    assert documented, "docs/cli.md mentions no options"
    assert documented <= listed, f"docs/cli.md mentions options --help does not list: {sorted(documented - listed)}"
