"""Django management commands provided by the ``asgidev.django`` app."""
