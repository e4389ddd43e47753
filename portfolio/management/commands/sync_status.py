from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from accounts.models import ExchangeAccount


class Command(BaseCommand):
    help = "Sync state of every linked account: last success, backfill progress, errors."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", help="only this dashboard user's accounts")

    def handle(self, *args: Any, **options: Any) -> None:
        accounts = ExchangeAccount.objects.select_related("owner", "sync_state").order_by("pk")
        if options["user"]:
            accounts = accounts.filter(owner__username=options["user"])
        now = timezone.now()
        self.stdout.write(
            f"{'id':>5}  {'user':<12} {'account':<24} {'state':<13} {'age':>7}  "
            f"{'backfill':<22} last error"
        )
        for account in accounts:
            state = getattr(account, "sync_state", None)
            if state is None or state.last_success_at is None:
                age, backfill = "-", "pending"
            else:
                age = f"{(now - state.last_success_at).total_seconds():.0f}s"
                done = "done" if state.backfill_done else "running"
                backfill = f"{done}: {state.backfill_trades}t/{state.backfill_orders}o"
            if not account.sync_enabled:
                status = "paused" if account.status == "verified" else account.status
            else:
                status = "stale" if state is not None and state.stale else "ok"
            error = state.last_error if state is not None else ""
            self.stdout.write(
                f"{account.pk:>5}  {account.owner.username:<12} {account.label[:24]:<24} "
                f"{status:<13} {age:>7}  {backfill:<22} {error}"
            )
