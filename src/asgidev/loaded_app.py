"""``LoadedApp``: the app a process serves, with what its loader learned about it.

A leaf, so both the loader (``runner``) and Django support
(``django/integration.py``), which ``runner`` calls, can build one without
importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from asgidev._types import ASGIApp
from asgidev.config import Config


@dataclass(frozen=True)
class LoadedApp:
    """The app to serve, how the banner names it, and extra banner lines (e.g. Django's version)."""

    app: ASGIApp
    label: str
    banner_lines: tuple[str, ...] = ()
    # Host names the app itself declares valid (Django's ALLOWED_HOSTS), added to the host guard's list.
    allowed_hosts: tuple[str, ...] = ()
    # Run once the server serves (Django's system checks): work a developer wants
    # to see, but not between a save and the first response.
    after_start: Callable[[], object] | None = None
    # An error page stands in for the user's app (a reload worker whose app did
    # not load or start): it serves until a save brings the fix.
    is_error_page: bool = False
    # What went wrong, logged after the banner so it is the last thing on the
    # screen; empty when it was said already (a crash the supervisor reported).
    problem: str = ""

    def configure(self, config: Config) -> Config:
        """``config`` with what the app declares (its allowed hosts) folded in."""
        if not self.allowed_hosts:
            return config
        return config.replace(allowed_hosts=(*config.allowed_hosts, *self.allowed_hosts))
