"""asgidev: a fast asyncio ASGI development server.

Run it with ``asgidev mysite.asgi:application``; embed it in tests with
``async with asgidev.serve(app) as server``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["RunningServer", "__version__", "serve", "serve_in_thread"]

if TYPE_CHECKING:
    from asgidev.testing.embedded import RunningServer, serve, serve_in_thread


def __getattr__(name: str) -> Any:
    # Imported lazily so that `import asgidev` (the pytest plugin, the CLI) stays cheap.
    if name in ("serve", "serve_in_thread", "RunningServer"):
        from asgidev.testing import embedded

        return getattr(embedded, name)
    raise AttributeError(f"module 'asgidev' has no attribute {name!r}")
