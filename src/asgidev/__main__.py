"""``python -m asgidev``: the same as the ``asgidev`` command."""

from asgidev.launch import main

if __name__ == "__main__":
    main()
