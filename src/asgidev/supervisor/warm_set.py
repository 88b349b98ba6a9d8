"""The supervisor's side of warm spares: the modules the workers reported, and the WARM requests made of a spare.

The worker's side (learning the set, importing it, checking it is still
current) is ``warm.py``; docs/reloading.md describes both.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os

from asgidev.config import Config
from asgidev.envfile import env_file_paths
from asgidev.supervisor.handle import Worker
from asgidev.supervisor.handoff import Kind, WarmRequest

logger = logging.getLogger("asgidev.reload")


class WarmSet:
    """Installed modules the workers imported, in import order, for the spare to import before the next change."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.modules: dict[str, None] = {}
        self._roots: tuple[str, ...] | None = None

    @property
    def roots(self) -> tuple[str, ...]:
        """The watched roots, as given and resolved: the project's code, never warmed."""
        if self._roots is None:
            from asgidev.supervisor.watcher import watch_roots

            given = self.config.reload_dirs or (self.config.app_dir,)
            self._roots = tuple(dict.fromkeys([*map(str, watch_roots(self.config)), *map(os.path.abspath, given)]))
        return self._roots

    def learn(self, payload: bytes) -> list[str]:
        """Remember the modules a worker reported (MODULES); returns the ones not known before."""
        new = [name for name in json.loads(payload) if name not in self.modules]
        self.modules.update(dict.fromkeys(new))
        return new

    def ask(self, spare: Worker, modules: list[str]) -> None:
        """Ask a spare to import ``modules`` now (unless reloads are to start cold)."""
        if modules and not self.config.reload_cold:
            request = WarmRequest(tuple(modules), self.roots, tuple(map(str, env_file_paths(self.config))))
            with contextlib.suppress(OSError):
                spare.control.send(Kind.WARM, request.encode())

    def note_warmed(self, spare: Worker, payload: bytes) -> None:
        """A spare's WARMED report: remembered for the reload line, and logged at debug level."""
        report = json.loads(payload)
        spare.warm_modules = int(report["modules"])
        refused = report["refused"] or "none"
        logger.debug("Spare worker warm: %d modules in %d ms; left for after a change: %s", report["modules"], report["ms"], refused)
