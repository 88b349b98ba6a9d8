"""Django support: project discovery, static files, system checks and ``manage.py runserver``.

The only package that imports django. Nothing here imports it at module level
except the modules Django itself loads (``apps``, ``management``) and those the
integration imports once it knows it serves a Django project, so users of other
frameworks never pay for (or need) Django. Add ``"asgidev.django"`` to
``INSTALLED_APPS`` to make ``manage.py runserver`` run asgidev.
"""
