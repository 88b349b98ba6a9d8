"""The polls app; MYSITE_CHECK_ERROR=1 makes its system check fail, MYSITE_CHECK_GATE=PATH makes it wait for PATH."""

import os
import time
from pathlib import Path

from django.apps import AppConfig
from django.core import checks

# How long the gated check waits for its file at most (a test creates it within seconds).
GATE_TIMEOUT_S = 60.0


def failing_check(app_configs, **kwargs):
    gate = os.environ.get("MYSITE_CHECK_GATE")
    if gate:
        # A slow check, finished when the test says: the site must be served meanwhile.
        deadline = time.monotonic() + GATE_TIMEOUT_S
        while not Path(gate).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    if os.environ.get("MYSITE_CHECK_ERROR"):
        return [checks.Error("The polls test check failed on purpose.", id="polls.E001")]
    return []


class PollsConfig(AppConfig):
    name = "polls"

    def ready(self) -> None:
        checks.register(failing_check)
