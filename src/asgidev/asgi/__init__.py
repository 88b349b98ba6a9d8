"""ASGI glue written once: scopes, the HTTP cycle, lifespan. Knows neither sockets nor h11."""
