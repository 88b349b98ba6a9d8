"""The cyclic garbage collector, paused while a process loads code: warming, the app's import and its set-up.

Loading a framework creates objects that live as long as the process does
(modules, classes, functions, settings). While they are created, CPython's
collector runs full collections over the growing heap and finds almost
nothing to free: about 15 % of Wagtail's import and set-up on our machines
(~170 ms of 1.1 s). Paused, with the survivors frozen after (``gc.freeze``
moves them out of the collector's generations), a load costs only its
imports; later full collections never walk that heap again (one walk costs
~110 ms on Wagtail's); and a process forked after it (a seed, seed.py) keeps
sharing those pages instead of copying each one the collector would touch.

What it gives up: a reference cycle among objects created during the load
that becomes garbage later is never freed (reference counting frees all
else). Those are the code's own objects, alive until the next reload
replaces the worker; the cycles a load leaves behind are kept too (about
4,000 objects on Wagtail). Only processes asgidev owns pause their collector
(a reload worker, ``--no-reload``); the embedding API never touches it.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No automatic cyclic garbage collection inside; what exists on the way out is frozen, and collection resumes.

    Paused by a zero threshold rather than ``gc.disable()``, so that code run inside keeps its own say: an app
    that turns the collector off at import (``gc.disable()``) or sets its own thresholds finds them kept after.
    """
    thresholds = gc.get_threshold()
    gc.set_threshold(0)  # a first-generation threshold of 0: no automatic collection
    try:
        yield
    finally:
        gc.freeze()
        if gc.get_threshold()[0] == 0:  # unless the code inside chose thresholds of its own
            gc.set_threshold(*thresholds)
