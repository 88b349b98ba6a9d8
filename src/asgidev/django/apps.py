"""The ``asgidev.django`` Django app: put it in ``INSTALLED_APPS`` to make ``runserver`` run asgidev."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig  # type: ignore[import-untyped]
from django.core import checks  # type: ignore[import-untyped]


class AsgidevConfig(AppConfig):  # type: ignore[misc]
    name = "asgidev.django"
    label = "asgidev"
    verbose_name = "asgidev"

    def __init__(self, app_name: str, app_module: Any) -> None:
        # Django creates app configs before it imports any models.py: the
        # earliest moment 'manage.py runserver' can become asgidev, so a broken
        # model can never make Django fall back to its own server.
        from asgidev.django.early_handover import hand_over_early

        hand_over_early()
        super().__init__(app_name, app_module)

    def ready(self) -> None:
        from asgidev.django.checks import check_app_order

        checks.register(check_app_order)
