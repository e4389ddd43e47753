from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from accounts.standx_access import default_endpoints
from portfolio.market.pricestream import PriceStreamRunner
from portfolio.sync.pipeline import shared_rate_limiter
from standx.rest import StandXClient


class Command(BaseCommand):
    help = "Hold StandX's price stream for every held symbol; store marks (one process only)."

    def handle(self, *args: Any, **options: Any) -> None:
        endpoints = default_endpoints()
        runner = PriceStreamRunner(
            endpoints.ws_url,
            lambda: StandXClient(endpoints=endpoints, rate_limiter=shared_rate_limiter()),
        )
        self.stdout.write(f"price stream on {endpoints.ws_url}")
        asyncio.run(self._run(runner))

    async def _run(self, runner: PriceStreamRunner) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runner.run(stop)
