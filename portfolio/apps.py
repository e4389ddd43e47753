from __future__ import annotations

from django.apps import AppConfig


class PortfolioConfig(AppConfig):
    name = "portfolio"
    verbose_name = "Portfolio"

    def ready(self) -> None:
        # Connect the signal handlers and register the deployment checks.
        from portfolio import signals  # noqa: F401
        from portfolio.alerts import checks  # noqa: F401
        from standx_web.redis_client import redis_client
        from venues import budget

        # Every process spends each venue's request budget through the one Redis.
        budget.configure(redis_client)
