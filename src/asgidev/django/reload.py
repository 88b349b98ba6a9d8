"""Apply template and translation edits inside a running worker, without a restart.

Django's own autoreloader does the same through its ``file_changed`` signal:
reset the cached template loaders when a file under a template directory
changes (which also forgets "template does not exist", so new files are found),
and clear the translation caches when a ``*.mo`` file changes. Both only drop
caches, so they are safe between requests. The reload worker calls
``apply_in_place`` when the supervisor reports a batch of such changes.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path


def apply_in_place(changed_paths: Iterable[str]) -> bool:
    """Reset Django's caches for ``changed_paths``; True when that covers every path.

    Call it in the worker that serves a Django app, on the event loop thread,
    with the paths of one batch of changes. False means at least one path is
    not a template or ``*.mo`` file (or Django is not set up in this process):
    restart the worker instead.
    """
    if "django.apps" not in sys.modules:
        return False
    from django.apps import apps  # type: ignore[import-untyped]

    if not apps.ready:
        return False
    from django.template.autoreload import template_changed  # type: ignore[import-untyped]
    from django.utils.translation.reloader import translation_file_changed  # type: ignore[import-untyped]

    paths = [Path(p).resolve() for p in changed_paths]
    if not paths:
        return False
    # Every path must be handled: one .py among them needs the restart anyway.
    return all(bool(translation_file_changed(None, path) or template_changed(None, path)) for path in paths)
