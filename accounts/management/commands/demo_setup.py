"""Everything `make run` prepares before starting the servers, in one process (start-up time)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services
from accounts.venue_endpoints import standx_endpoints


class Command(BaseCommand):
    help = "Migrate, collect static files, create demo/demo and link the simulator's demo account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sim-url", help="link GET <sim-url>/sim/demo to the demo login")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        user = services.user_ensure_demo()
        self.stdout.write("Demo login ready: demo / demo")
        if not options["sim_url"]:
            return
        url = options["sim_url"].rstrip("/") + "/sim/demo"
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - our simulator
            demo = json.loads(response.read())
        try:
            # In place of the demo's links to simulators that ran on other ports before.
            account = services.account_link_demo(
                owner=user,
                token=demo["token"],
                signing_key=demo["signing_key"],
                endpoints=standx_endpoints(),
            )
        except services.LinkError as exc:
            raise CommandError(f"Could not link the demo account: {exc}") from None
        self.stdout.write(f"Linked the simulator's demo account {account.short_address}")
