"""Import Django's own modules in a spare reload worker, before it is told to load the project.

A spare worker waits for the next code change with Python and asgidev
loaded; for a Django project it also loads Django itself, which is most of a
Django worker's start-up. Only Django's modules that need no settings are
imported: the user's code and settings wait for GO, so the spare always runs
the code as it is after the change.
"""

from __future__ import annotations

import importlib
import logging

from asgidev.django.discovery import find_project

logger = logging.getLogger(__name__)

# Importable without configured settings.
DJANGO_MODULES = (
    "django.core.handlers.asgi",
    "django.core.asgi",
    "django.contrib.staticfiles.handlers",
    "django.urls",
    "django.http",
    "django.template",
    "django.template.loader",
    "django.db.models",
    "django.forms",
    "django.views.generic",
    "django.middleware.csrf",
    "django.contrib.sessions.middleware",
)


def prewarm_django(app_dir: str) -> bool:
    """Import Django's modules when ``app_dir`` is a Django project; True when it did."""
    if find_project(app_dir) is None:
        return False
    for name in DJANGO_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # a missing optional part only costs the speed-up
            logger.debug("Pre-importing %s failed: %r", name, exc)
            return False
    return True
