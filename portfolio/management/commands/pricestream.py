from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from accounts.venue_endpoints import configured_endpoints
from portfolio.market.pricestream import PriceStreamRunner
from portfolio.market.store import PUBLIC_VENUE
from portfolio.sync.pipeline import shared_rate_limiter
from venues import registry


class Command(BaseCommand):
    help = "Hold the venue's mark feed for every listed or held symbol; store marks (one process)."

    def handle(self, *args: Any, **options: Any) -> None:
        venue = registry.adapter(PUBLIC_VENUE)
        endpoints = configured_endpoints(PUBLIC_VENUE)
        runner = PriceStreamRunner(
            venue.key,
            venue.mark_feed(endpoints),
            lambda: venue.public(endpoints, limiter=shared_rate_limiter()),
        )
        self.stdout.write(f"price stream on {endpoints['ws']}")
        asyncio.run(self._run(runner))

    async def _run(self, runner: PriceStreamRunner) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runner.run(stop)
