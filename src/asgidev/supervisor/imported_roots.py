"""The code an app imports from outside the watched roots and outside any installed location: it is watched too.

runserver reloads on any imported module outside the standard library and
site-packages, such as an editable install of a package in ``../src``
(django-oscar's sandbox). A worker finds those packages once its app is loaded
(and again with each warm-set report, for packages the first requests import)
and tells the supervisor (``Kind.ROOTS``), which watches their directories from
then on and counts them as the project's code, never warmed. Left out:
asgidev's own package (a change there needs a new supervisor anyway) and the
directories named in ``PYTHONPATH``, which stand for installed code as much as
site-packages does (``--reload-dir`` watches one).
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path

# Path components of installed code (virtualenvs, distributions' Python).
INSTALLED_DIRS = frozenset({"site-packages", "dist-packages"})


def imported_roots(watched: Sequence[str]) -> list[str]:
    """Directories of imported top-level packages (or of single modules) that nothing watches and nobody installed."""
    excluded = _installed_locations()
    roots: dict[str, None] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not isinstance(file, str) or "." in name:
            continue  # a submodule's package is looked at on its own
        path = os.path.abspath(file)
        if not os.path.isfile(path) or INSTALLED_DIRS.intersection(Path(path).parts) or _is_under(path, [*excluded, *watched]):
            continue
        root = os.path.dirname(path)
        # A package: its directory; a single module: the directory holding it, which is what imports it.
        roots.setdefault(root)
    return sorted(root for root in roots if not _is_under(root, watched))


def _installed_locations() -> list[str]:
    paths = sysconfig.get_paths()
    locations = [paths["stdlib"], paths["platstdlib"], *site.getsitepackages(), site.getusersitepackages()]
    locations.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # asgidev itself
    locations += [path for path in os.environ.get("PYTHONPATH", "").split(os.pathsep) if path]
    return [os.path.abspath(location) for location in locations]


def _is_under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)
