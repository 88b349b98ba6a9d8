"""``runserver``, overridden to run asgidev."""
