"""Django's system checks and the unapplied-migrations warning, printed as ``runserver`` prints them.

Never fatal, and never in the way: they run once the server serves (after
the start and after each reload), on a thread of their own, and print their
result when ready, so a save reaches the browser without waiting for them
(~0.2-0.7 s on real projects). A failing check is printed and serving
continues, so the developer sees the message and the site at once. Also holds the check that
``asgidev.django`` comes before ``django.contrib.staticfiles`` in
``INSTALLED_APPS`` (whichever comes first owns ``runserver``).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

from django.apps import apps  # type: ignore[import-untyped]
from django.core import checks  # type: ignore[import-untyped]
from django.core.management.base import BaseCommand, SystemCheckError  # type: ignore[import-untyped]
from django.db import connections  # type: ignore[import-untyped]

logger = logging.getLogger(__name__)

ASGIDEV_APP = "asgidev.django"
# Apps that also override runserver; asgidev's must be listed before them.
RUNSERVER_OWNERS = ("django.contrib.staticfiles", "daphne")
# The checks wait this long after serving starts. After a save the browser's
# request arrives at once, and the checks would otherwise import the URLconf
# beside it and share the GIL with it (~50 ms on a DRF project): the first
# response comes first, the checks' result a moment later.
CHECKS_DELAY_S = 0.3


def start_checks(*, skip_checks: bool) -> threading.Thread:
    """Start printing system-check results (unless ``skip_checks``) and unapplied migrations; returns the thread.

    A thread of its own, not the event loop's: Django refuses database work
    inside a running loop (SynchronousOnlyOperation), and requests must not
    wait. A daemon, so a worker told to stop never waits for its checks.
    """
    thread = threading.Thread(target=_run_checks, args=(skip_checks,), name="asgidev-django-checks", daemon=True)
    thread.start()
    return thread


def _run_checks(skip_checks: bool) -> None:
    time.sleep(CHECKS_DELAY_S)
    command = BaseCommand(stdout=sys.stdout, stderr=sys.stderr)
    if not skip_checks:
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
    """A system check: ``asgidev.django`` should come before apps that also provide ``runserver``."""
    names = [config.name for config in apps.get_app_configs()]
    if ASGIDEV_APP not in names:
        return []
    mine = names.index(ASGIDEV_APP)
    # A warning, not an error: errors stop migrate, makemigrations and every other
    # command that runs checks, and only runserver cares about the order.
    warnings = []
    for owner in RUNSERVER_OWNERS:
        if owner in names and names.index(owner) < mine:
            warnings.append(
                checks.Warning(
                    f"'{ASGIDEV_APP}' should come before '{owner}' in INSTALLED_APPS.",
                    hint=f"Move '{ASGIDEV_APP}' above '{owner}'; otherwise 'manage.py runserver' may run {owner}'s server, not asgidev.",
                    id="asgidev.W001",
                )
            )
    return warnings
