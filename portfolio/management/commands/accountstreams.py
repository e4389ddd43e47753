from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from portfolio.streams.worker import AccountStreamsWorker, worker_name


class Command(BaseCommand):
    help = (
        "Hold one authenticated account stream per leased account and store its events "
        "(run any number of these: the accounts are shared out by leases)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--capacity",
            type=int,
            default=settings.STREAM_WORKER_CAPACITY,
            help="the most streams this worker holds (STREAM_WORKER_CAPACITY)",
        )
        parser.add_argument(
            "--figures",
            type=Path,
            help="write the events stored and their event-to-row ages (JSON) here at each stop",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        worker = AccountStreamsWorker(
            worker_name(),
            capacity=options["capacity"],
            heartbeat_every=settings.STREAM_HEARTBEAT_SECONDS,
            ping_every=settings.STREAM_PING_SECONDS,
            lag_after=settings.STREAM_LAG_SECONDS,
        )
        self.stdout.write(f"account streams: {worker.name}, up to {worker.capacity} accounts")
        asyncio.run(self._run(worker))
        if options["figures"] is not None:
            figures = {"events": worker.figures.events, "ages": worker.figures.ages}
            options["figures"].write_text(json.dumps(figures))

    async def _run(self, worker: AccountStreamsWorker) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)
