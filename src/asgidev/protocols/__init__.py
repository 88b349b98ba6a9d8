"""Sans-IO protocol engines: bytes in, events out. No asyncio, no ASGI here."""
