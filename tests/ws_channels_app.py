"""A Django Channels echo consumer behind ProtocolTypeRouter, for test_websocket (run in a subprocess only).

Importing this module configures Django's process-wide settings, so the tests
serve it through the CLI in its own process rather than importing it.
"""

from __future__ import annotations

from typing import Any

import django  # type: ignore[import-untyped]
from django.conf import settings  # type: ignore[import-untyped]

settings.configure(DEBUG=False, SECRET_KEY="asgidev-tests", ALLOWED_HOSTS=["*"], ROOT_URLCONF=__name__, INSTALLED_APPS=[])
django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # type: ignore[import-untyped]  # noqa: E402  (needs settings)
from channels.routing import ProtocolTypeRouter, URLRouter  # type: ignore[import-untyped]  # noqa: E402
from django.core.asgi import get_asgi_application  # type: ignore[import-untyped]  # noqa: E402
from django.urls import path  # type: ignore[import-untyped]  # noqa: E402

urlpatterns: list[Any] = []


class EchoConsumer(AsyncWebsocketConsumer):  # type: ignore[misc]  # channels is untyped
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data is not None:
            await self.send(text_data="echo: " + text_data)
        else:
            await self.send(bytes_data=bytes_data)


application = ProtocolTypeRouter(
    {
        "http": get_asgi_application(),
        "websocket": URLRouter([path("ws/echo/", EchoConsumer.as_asgi())]),
    }
)
