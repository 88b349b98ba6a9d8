#!/usr/bin/env python
"""Django's command-line utility for the test project."""

import os
import sys
from pathlib import Path

import dotenv


def main() -> None:
    # More set-up than DJANGO_SETTINGS_MODULE, as Wagtail's bakerydemo does: bare asgidev does not run it.
    dotenv.load_dotenv(Path(__file__).with_name(".env"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
