"""Tell "the client went away" from "the app is broken" when an app raises.

ASGI spec 2.4 lets ``send`` raise ``OSError`` once the client has gone, and
frameworks turn that (or an ``http.disconnect`` from ``receive``) into their
own exception: Starlette and FastAPI raise ``starlette.requests.ClientDisconnect``.
An exception like that after the client left is the end of a request nobody
waits for (a closed SSE tab, a reload, Ctrl+C with a stream open), not an error.
"""

from __future__ import annotations

import asyncio

from asgidev.asgi.http import ClientDisconnectedError

# Frameworks' own "the client disconnected" exceptions, by class name, so none of them need be imported.
FRAMEWORK_DISCONNECT_NAMES = frozenset({"ClientDisconnect", "ClientDisconnected", "Disconnected"})


def is_client_disconnect(exc: BaseException, *, is_client_gone: bool) -> bool:
    """Whether ``exc`` only says the client left (``is_client_gone``: the server saw it leave)."""
    if isinstance(exc, (ClientDisconnectedError, asyncio.CancelledError)):
        return True
    if isinstance(exc, BaseExceptionGroup):
        # anyio task groups (Starlette's streaming responses) wrap what the app raised.
        return all(is_client_disconnect(inner, is_client_gone=is_client_gone) for inner in exc.exceptions)
    if not is_client_gone:
        return False
    return isinstance(exc, OSError) or any(cls.__name__ in FRAMEWORK_DISCONNECT_NAMES for cls in type(exc).__mro__)
