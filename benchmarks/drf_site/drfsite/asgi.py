"""ASGI entry point of the Django REST framework benchmark project."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drfsite.settings")

application = get_asgi_application()
