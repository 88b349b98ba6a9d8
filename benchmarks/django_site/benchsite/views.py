"""The views the suite measures.

``io`` stands for a view that awaits a database or an upstream API: it
sleeps 10 ms without blocking, so a server's concurrency (not its CPU)
decides the throughput.
"""

import asyncio

from django.http import HttpRequest, HttpResponse

TOKEN = "Hello, world!"
# 10 ms: a typical fast upstream call; long enough that serial handling would cap at ~100 req/s.
IO_WAIT_S = 0.010


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse(TOKEN, content_type="text/plain")


async def io(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(IO_WAIT_S)
    return HttpResponse(TOKEN, content_type="text/plain")


def page(request: HttpRequest) -> HttpResponse:
    """An HTML page, for the live-reload measurement (the script goes into HTML only)."""
    return HttpResponse(f"<!doctype html><html><body><h1>{TOKEN}</h1></body></html>")
