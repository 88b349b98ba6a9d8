"""The next worker, kept ready before the change that needs it: a spare, and the seed that makes the one after it.

A spare is a worker waiting for GO, warmed with the installed modules the app
needs (warm_set.py, warm.py) and, for a slow Django set-up, with that set-up
run in advance (prepared.py). Such a spare leaves a seed, a warm copy of
itself from before the set-up (seed.py): the seed becomes the next spare,
and it serves a change the prepared spare may not. Without a seed, the next
spare is a fresh interpreter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from asgidev.supervisor.control import ControlChannel, Message
from asgidev.supervisor.handle import Worker
from asgidev.supervisor.spawn import WorkerProcess
from asgidev.supervisor.subreaper import adopt
from asgidev.supervisor.warm_set import WarmSet

logger = logging.getLogger("asgidev.reload")

# The spare worker starts this long after the current one is ready, so its
# start-up and imports never compete with the first responses for the CPU.
SPARE_DELAY_S = 0.1
# How long a checkpoint seed is kept after a spare warmed without failing: a worker reports the modules it
# imported up to 5 s after it starts serving (worker.py), and a new one may yet fail in the spare.
CHECKPOINT_KEEP_S = 6.0


class Spares:
    """The supervisor's spare and seed: which exist, and when the next spare starts."""

    def __init__(
        self,
        warm_set: WarmSet,
        spawn: Callable[[], Worker],
        register: Callable[[WorkerProcess, ControlChannel], Worker],
        retire: Callable[[Worker], None],
    ) -> None:
        self.warm_set = warm_set
        self.spare: Worker | None = None
        self.seed: Worker | None = None
        self._spawn = spawn
        self._register = register
        self._retire = retire
        self._timer: asyncio.TimerHandle | None = None
        self._stopped = False
        self._said_no_seed = False

    def schedule(self) -> None:
        """Have a spare waiting (warmed) before the next change, started once the current worker has settled."""
        if self.spare is None and self._timer is None and not self._stopped:
            self._timer = asyncio.get_running_loop().call_later(SPARE_DELAY_S, self.start)

    def start_first(self) -> None:
        """At start, when spares prepare: the first worker imports what the last run's had by the time it served.

        Those imports are its own anyway (from the warm-set file, warm_cache.py, before GO: they overlap the
        watcher's start), and a worker warmed so leaves a seed at GO (seed.py), which the first spare is: it only
        has the set-up left to run, and is ready for the first save as the later spares are. Without a set-up
        in advance there is no seed to gain, and a cold first worker is the simpler start.
        """
        if self.warm_set.prepare and self.warm_set.at_start and self.spare is None and not self._stopped:
            self.spare = self._spawn()
            # Only what a start imports: the rest would delay the first response. The next spare imports it all.
            self.warm_set.ask(self.spare, list(self.warm_set.modules)[: self.warm_set.at_start], finish=True)

    def start(self) -> None:
        """Start the spare now: the seed, if there is one, else a fresh interpreter."""
        self._timer = None
        if self.spare is None and not self._stopped:
            seed = self.take_seed()
            self.spare = seed or self._spawn()
            logger.debug("Spare worker: %s.", f"the seed (pid {seed.process.pid})" if seed else "a fresh interpreter")
            self.warm_set.ask(self.spare, list(self.warm_set.modules))

    def take(self) -> Worker | None:
        """The spare, to be sent GO (None if there is none, or it died meanwhile)."""
        spare, self.spare = self.spare, None
        return _alive(spare)

    def take_seed(self) -> Worker | None:
        seed, self.seed = self.seed, None
        return _alive(seed)

    def keep_seed(self, spare: Worker, message: Message) -> None:
        """A spare forked a seed (SEED): it is the next spare, instead of a fresh interpreter."""
        adopted = adopt(message)
        if adopted is None:
            if message.payload and not self._said_no_seed:  # why the spare could not fork one (seed.py)
                self._said_no_seed = True
                logger.info("%s.", message.payload.decode(errors="replace"))
            return
        seed = self._register(*adopted)
        seed.warm_modules = spare.warm_modules
        if self.seed is not None:
            self._retire(self.seed)
        self.seed = seed
        if self._stopped:
            self._retire(seed)

    def drop_seed_later(self) -> None:
        """A spare warmed without failing: its checkpoint is dropped unless a failure needs it meanwhile."""
        if self.seed is not None:
            asyncio.get_running_loop().call_later(CHECKPOINT_KEEP_S, self._drop_seed, self.seed)

    def _drop_seed(self, seed: Worker) -> None:
        if seed is self.seed:
            self.seed = None
            self._retire(seed)

    def forget(self, worker: Worker) -> None:
        """``worker`` is exiting: never hand it GO."""
        if worker is self.spare:
            self.spare = None
        if worker is self.seed:
            self.seed = None

    def stop(self) -> None:
        """Shutting down: no spare is started from now on."""
        self._stopped = True
        if self._timer is not None:
            self._timer.cancel()


def _alive(worker: Worker | None) -> Worker | None:
    return worker if worker is not None and worker.process.poll() is None else None
