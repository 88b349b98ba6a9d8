"""The early step of the handover: ``manage.py runserver`` becomes asgidev while Django creates the app configs.

A module of its own, apart from ``handover.py``: it parses the command line
with the ``runserver`` command's own parser, and that command uses
``handover.plan`` in turn; kept in one module, the two would import each other.
"""

from __future__ import annotations

import os
import sys

from asgidev.django.handover import plan

# runserver invocations that print something and exit: left to Django.
PRINT_AND_EXIT = frozenset({"--help", "-h", "--version"})


def hand_over_early() -> None:
    """Called while Django imports the apps: become asgidev now if this is ``manage.py runserver`` from the command line.

    Returns (and lets Django carry on) for anything else, and when the options or
    settings are wrong: the runserver command then says what is wrong, after set-up.
    """
    argv = _command_line_argv()
    if argv is None or len(argv) < 2 or argv[1] != "runserver" or PRINT_AND_EXIT.intersection(argv[2:]):
        return
    if "DJANGO_AUTO_COMPLETE" in os.environ:  # the shell is asking for completions
        return
    from django.core.management.base import CommandError  # type: ignore[import-untyped]

    from asgidev.django.management.commands.runserver import Command
    from asgidev.errors import AsgidevError

    try:
        options = vars(Command().create_parser(os.path.basename(argv[0]), "runserver").parse_args(argv[2:]))
        handover = plan(options)
    except (CommandError, AsgidevError, SystemExit):
        return
    handover.run()


def _command_line_argv() -> list[str] | None:
    """The arguments of Django's command-line utility running in this call stack (None: not run from a command line)."""
    from django.core.management import ManagementUtility  # type: ignore[import-untyped]

    code = ManagementUtility.execute.__code__
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code is code:
            argv = getattr(frame.f_locals.get("self"), "argv", None)
            return list(argv) if isinstance(argv, list) else None
        frame = frame.f_back  # type: ignore[assignment]
    return None
