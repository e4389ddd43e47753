from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import venue_config
from portfolio.market.pricestream import PriceStreamRunner
from portfolio.sync.pipeline import shared_rate_limiter
from venues import registry
from venues.base import Endpoints, PublicSession, VenueAdapter


def public_session(adapter: VenueAdapter, endpoints: Endpoints) -> Callable[[], PublicSession]:
    def make() -> PublicSession:
        return adapter.public(endpoints, limiter=shared_rate_limiter(adapter.key, share="all"))

    return make


class Command(BaseCommand):
    help = "Hold each venue's mark feed for every listed or held symbol; store marks (one process)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--venue",
            action="append",
            help="only this venue (repeatable); default: every venue in settings.VENUES",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        offered = venue_config.offered()
        chosen = options["venue"] or offered
        unknown = sorted(set(chosen) - set(offered))
        if unknown:
            raise CommandError(f"not offered here: {', '.join(unknown)} (VENUES={offered})")
        runners = []
        for key in chosen:
            adapter = registry.adapter(key)
            endpoints = venue_config.configured_endpoints(key)
            feed = adapter.mark_feed(endpoints)
            runners.append(PriceStreamRunner(key, feed, public_session(adapter, endpoints)))
            # A venue whose marks are polled (OCX) has no socket: its API origin is named.
            where = endpoints.urls.get("ws") or endpoints.origin
            self.stdout.write(f"price stream: {adapter.name} on {where}")
        asyncio.run(self._run(runners))

    async def _run(self, runners: list[PriceStreamRunner]) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await asyncio.gather(*(runner.run(stop) for runner in runners))
