"""``python -m asgidev``: the same as the ``asgidev`` command."""

from asgidev.cli import main

if __name__ == "__main__":
    main()
