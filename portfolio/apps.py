from __future__ import annotations

from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "portfolio"
    verbose_name = "Portfolio"

    def ready(self) -> None:
        from portfolio import (  # noqa: F401 - connect the signal handlers, register the checks
            checks,
            signals,
        )
