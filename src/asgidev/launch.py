"""The ``asgidev`` command's entry point: start the first reload worker, then parse the command line.

The worker needs a few hundred milliseconds to start Python and import the
server; starting it before typer is even imported lets that overlap with the
supervisor's own start-up (see ``supervisor/spawn.py``).
"""

from __future__ import annotations

import sys


def main() -> None:
    """Console-script and ``python -m asgidev`` entry point."""
    from asgidev.supervisor.spawn import spawn_early

    spawn_early(sys.argv[1:])
    from asgidev.cli import main as cli_main

    cli_main()
