"""Django's system checks and the unapplied-migrations warning, printed as ``runserver`` prints them.

Never fatal: a failing check is printed and serving continues, so the
developer sees the message and the site at once. Also holds the check that
``asgidev.django`` comes before ``django.contrib.staticfiles`` in
``INSTALLED_APPS`` (whichever comes first owns ``runserver``).
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

from django.apps import apps  # type: ignore[import-untyped]
from django.core import checks  # type: ignore[import-untyped]
from django.core.management.base import BaseCommand, SystemCheckError  # type: ignore[import-untyped]
from django.db import connections  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

ASGIDEV_APP = "asgidev.django"
# Apps that also override runserver; asgidev's must be listed before them.
RUNSERVER_OWNERS = ("django.contrib.staticfiles", "daphne")


def run_startup_checks(*, skip_checks: bool) -> None:
    """Print system-check results (unless ``skip_checks``) and warn about unapplied migrations.

    Runs on a thread of its own: the caller may be inside a running event loop
    (the reload worker loads apps there), where Django refuses database work
    with SynchronousOnlyOperation. Returns once the checks are done.
    """
    thread = threading.Thread(target=_run_checks, args=(skip_checks,), name="asgidev-django-checks")
    thread.start()
    thread.join()


def _run_checks(skip_checks: bool) -> None:
    command = BaseCommand(stdout=sys.stdout, stderr=sys.stderr)
    if not skip_checks:
        sys.stdout.write("Performing system checks...\n\n")
        try:
            command.check(display_num_errors=True)
        except SystemCheckError as exc:
            sys.stderr.write(f"{exc}\n")
            sys.stderr.write("Serving anyway; fix the errors above (they are checked again after each reload).\n")
        except Exception:
            logger.exception("Django's system checks crashed; serving anyway.")
    try:
        command.check_migrations()
    except Exception as exc:  # e.g. the database is unreachable: runserver would crash, we only warn
        logger.warning("Could not check for unapplied migrations: %s: %s", type(exc).__name__, exc)
    finally:
        # The checks ran on this thread; requests use other threads and connections.
        connections.close_all()
    sys.stdout.flush()
    sys.stderr.flush()


def check_app_order(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """A system check: ``asgidev.django`` must come before apps that also provide ``runserver``."""
    names = [config.name for config in apps.get_app_configs()]
    if ASGIDEV_APP not in names:
        return []
    mine = names.index(ASGIDEV_APP)
    errors = []
    for owner in RUNSERVER_OWNERS:
        if owner in names and names.index(owner) < mine:
            errors.append(
                checks.Error(
                    f"'{ASGIDEV_APP}' must come before '{owner}' in INSTALLED_APPS.",
                    hint=f"Move '{ASGIDEV_APP}' above '{owner}'; otherwise 'manage.py runserver' runs {owner}'s server, not asgidev.",
                    id="asgidev.E001",
                )
            )
    return errors
