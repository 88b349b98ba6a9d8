"""asgidev: a fast asyncio ASGI development server.

Run it with ``asgidev mysite.asgi:application``; embed it in tests with
``async with asgidev.serve(app) as server``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
