"""The polls app; MYSITE_CHECK_ERROR=1 makes its system check fail."""

import os

from django.apps import AppConfig
from django.core import checks


def failing_check(app_configs, **kwargs):
    if os.environ.get("MYSITE_CHECK_ERROR"):
        return [checks.Error("The polls test check failed on purpose.", id="polls.E001")]
    return []


class PollsConfig(AppConfig):
    name = "polls"

    def ready(self) -> None:
        checks.register(failing_check)
