"""A Channels ProtocolTypeRouter, picked through ASGI_APPLICATION (MYSITE_ASGI_APPLICATION)."""

import os

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = ProtocolTypeRouter({"http": get_asgi_application()})
