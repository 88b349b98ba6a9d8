"""Raw ASGI apps the servers are measured with (no framework in the way)."""
