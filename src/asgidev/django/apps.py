"""The ``asgidev.django`` Django app: put it in ``INSTALLED_APPS`` to make ``runserver`` run asgidev."""

from __future__ import annotations

from django.apps import AppConfig  # type: ignore[import-untyped]
from django.core import checks  # type: ignore[import-untyped]


class AsgidevConfig(AppConfig):  # type: ignore[misc]
    name = "asgidev.django"
    label = "asgidev"
    verbose_name = "asgidev"

    def ready(self) -> None:
        from asgidev.django.checks import check_app_order

        checks.register(check_app_order)
