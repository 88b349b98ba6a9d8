"""The supervisor's side of warm spares: the modules the workers reported, and the WARM requests made of a spare.

The worker's side (learning the set, importing it, checking it is still
current) is ``warm.py``; docs/reloading.md describes both.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

from asgidev.config import Config
from asgidev.envfile import env_file_paths
from asgidev.supervisor import warm_cache
from asgidev.supervisor.control import Kind, WarmRequest, config_to_json
from asgidev.supervisor.handle import Worker

logger = logging.getLogger("asgidev.reload")

# Spares set aside in a row (some modules failed to import in each) before
# warming is given up until a worker reports modules not seen before. Each one
# adds at least one module to the excluded ones, so there is no endless loop;
# this bounds the background work a pathological project could cause.
MAX_SPARES_SET_ASIDE = 8
# A Django set-up (settings, django.setup(): the part a spare runs in advance, prepared.py) slower than this,
# in a warm worker, is run in advance by the next spares; quicker ones are not worth a seed's memory.
PREPARE_WORTH_MS = 150.0


class WarmSet:
    """Installed modules the workers imported, in import order, for the spare to import before the next change."""

    def __init__(self, config: Config, *, can_seed: bool = False) -> None:
        self.config = config
        # Whether spares may fork seeds (seed.py), which running the set-up in advance needs.
        self.can_seed = can_seed
        self.modules: dict[str, None] = {}
        # Modules that failed to import in a spare: they, and the modules inside
        # them, are imported after GO (by the app's set-up), as in a cold start.
        self.excluded: set[str] = set()
        self.spares_set_aside = 0
        # Whether spares run the app's set-up in advance (prepared.py): learned from the last warm worker.
        self.prepare = False
        # The modules before this position (in ``modules`` order) imported cleanly, in order, in a spare that
        # then failed: the checkpoint a later spare forks a seed at (seed.py).
        self._clean_until = 0
        self._roots: tuple[str, ...] | None = None
        # What the last run learned (warm_cache.py): the first spare warms with it at once.
        self._cache = None if config.reload_cold else warm_cache.cache_path(Path(config.app_dir))
        # How many of ``modules`` (a prefix) the first worker to report had imported by then: a start's own.
        self.at_start = 0
        if self._cache is not None:
            learned = warm_cache.load(self._cache)
            self.prepare = learned.prepare and can_seed
            self.modules.update(dict.fromkeys(learned.modules))
            self.excluded.update(learned.excluded)
            self.at_start = min(learned.at_start, len(self.modules))

    @property
    def roots(self) -> tuple[str, ...]:
        """The watched roots, as given and resolved: the project's code, never warmed."""
        if self._roots is None:
            from asgidev.supervisor.watcher import watch_roots

            given = self.config.reload_dirs or (self.config.app_dir,)
            self._roots = tuple(dict.fromkeys([*map(str, watch_roots(self.config)), *map(os.path.abspath, given)]))
        return self._roots

    def reconfigure(self, config: Config) -> None:
        """New watched roots (imported code outside site-packages, reported by a worker): never warmed from now on."""
        self.config = config
        self._roots = None

    def learn(self, payload: bytes) -> list[str]:
        """Remember the modules a worker reported (MODULES); returns the ones not known before."""
        reported = json.loads(payload)
        new = [name for name in reported if name not in self.modules]
        self.modules.update(dict.fromkeys(new))
        first_report = not self.at_start and bool(reported)
        if first_report:
            # The first report comes just after the worker served (worker.py): about what a start imports.
            self.at_start = 1 + max(map({name: index for index, name in enumerate(self.modules)}.__getitem__, reported))
        if new:
            self.spares_set_aside = 0
        if new or first_report:
            self._save()
        return new

    def ask(self, spare: Worker, modules: list[str], *, finish: bool = False) -> None:
        """Ask a spare to import ``modules`` now, less the excluded ones (unless reloads are to start cold).

        ``finish``: all of them, even once GO is waiting (see WarmRequest).
        """
        if self.spares_set_aside >= MAX_SPARES_SET_ASIDE:
            return
        modules = [name for name in modules if not self._is_excluded(name)]
        if modules and not self.config.reload_cold:
            env_files = tuple(map(str, env_file_paths(self.config)))
            position = {name: index for index, name in enumerate(self.modules)}
            checkpoint = sum(1 for name in modules if position.get(name, len(position)) < self._clean_until) if self.can_seed else 0
            prepare = config_to_json(self.config) if self.prepare else ""
            request = WarmRequest(tuple(modules), self.roots, env_files, prepare, checkpoint, finish)
            with contextlib.suppress(OSError):
                spare.control.send(Kind.WARM, request.encode())

    def note_setup(self, worker: Worker) -> None:
        """A worker is serving: whether its set-up, as a warm worker paid it, is worth running in advance."""
        if worker.warm_modules and not self.config.reload_cold:
            prepare = self.can_seed and worker.is_django and worker.setup_ms >= PREPARE_WORTH_MS
            if prepare is not self.prepare:
                self.prepare = prepare
                self._save()

    def _save(self) -> None:
        if self._cache is not None:
            warm_cache.save(self._cache, warm_cache.Learned(list(self.modules), list(self.excluded), self.prepare, self.at_start))

    def _is_excluded(self, name: str) -> bool:
        # Importing a.b.c imports a and a.b first: inside an excluded package is excluded too.
        parts = name.split(".")
        return any(".".join(parts[:depth]) in self.excluded for depth in range(1, len(parts) + 1))

    def note_warmed(self, spare: Worker, payload: bytes) -> bool:
        """A spare's WARMED report, logged at debug level; False if the spare must be set aside (see warm.py)."""
        report = json.loads(payload)
        failed: list[str] = report["failed"]
        if failed:
            # Everything before its first failure imported as in a clean interpreter: a checkpoint from now on.
            self._clean_until = max(self._clean_until, list(self.modules).index(failed[0]) if failed[0] in self.modules else 0)
            self.excluded.update(failed)
            self.spares_set_aside += 1
            self._save()
            logger.debug(
                "Spare worker set aside: %d modules failed to import before the app's set-up (%s); a fresh spare imports the rest.",
                len(failed),
                _some(failed),
            )
            return False
        self.spares_set_aside = 0
        spare.warm_modules = int(report["modules"])
        left = _some(sorted(self.excluded)) if self.excluded else "none"
        logger.debug("Spare worker warm: %d modules in %d ms; left for after a change: %s", report["modules"], report["ms"], left)
        return True


def _some(names: list[str], shown: int = 5) -> str:
    """A list short enough for one log line."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{names[:shown]}{more}"
