"""``manage.py runserver``, run by asgidev when ``asgidev.django`` is in ``INSTALLED_APPS``.

Accepts runserver's arguments (``addrport``, ``-6``, ``--noreload``,
``--nostatic``, ``--insecure``, ``--skip-checks``; ``--nothreading`` is
accepted and ignored, every request already runs concurrently) plus one
option per asgidev setting (``--lifespan``, ``--reload-dir``, ...), and
replaces the process with ``asgidev`` (``handover.py``): the same supervisor,
workers and messages as bare ``asgidev``.
"""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError  # type: ignore[import-untyped]

from asgidev.django.options import add_config_arguments
from asgidev.errors import AsgidevError


class Command(BaseCommand):  # type: ignore[misc]
    help = "Starts asgidev, an ASGI development server, in place of Django's runserver."
    requires_system_checks: list[str] = []  # run by asgidev at start and after each reload
    suppressed_base_arguments = {"--verbosity", "--traceback"}

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("addrport", nargs="?", help="Optional port number, or ipaddr:port.")
        parser.add_argument("--ipv6", "-6", action="store_true", dest="use_ipv6", help="Use an IPv6 address.")
        parser.add_argument(
            "--nothreading", action="store_false", dest="use_threading", help="Accepted for runserver compatibility; ignored."
        )
        parser.add_argument("--noreload", action="store_false", dest="use_reloader", help="Do not restart the server when code changes.")
        parser.add_argument("--nostatic", action="store_false", dest="use_static_handler", help="Do not serve static files at STATIC_URL.")
        parser.add_argument("--insecure", action="store_true", dest="insecure_serving", help="Serve static files even if DEBUG is False.")
        parser.add_argument("--skip-checks", action="store_true", help="Skip system checks.")
        add_config_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        # Usually not reached from the command line: the process became asgidev
        # while Django imported the apps (see asgidev/django/handover.py).
        from asgidev.django.handover import plan

        try:
            handover = plan(options)
        except AsgidevError as exc:
            raise CommandError(str(exc)) from None
        handover.run()
