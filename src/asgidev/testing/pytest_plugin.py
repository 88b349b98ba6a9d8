"""pytest plugin: fixtures for serving an ASGI app on a real socket."""
