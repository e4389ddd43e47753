"""Everything `make run` prepares before starting the servers, in one process (start-up time)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from eth_account import Account
from eth_account.messages import encode_defunct

from accounts import linking, minting, services, venue_config
from accounts.models import ExchangeAccount, User

PERPEX_DEMO_LABEL = "PerpEx demo (simulated)"
OCX_DEMO_LABEL = "OCX demo (simulated)"


def _sim_demo(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url.rstrip("/") + "/sim/demo", timeout=10) as response:  # noqa: S310 - our simulator
        return dict(json.loads(response.read()))


class Command(BaseCommand):
    help = "Migrate, collect static files, create demo/demo and link the simulator's demo account."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--sim-url", help="link GET <sim-url>/sim/demo to the demo login")
        parser.add_argument(
            "--perpex-sim-url",
            help="link the PerpEx simulator's demo account (GET <url>/sim/demo) to the demo login",
        )
        parser.add_argument(
            "--ocx-sim-url",
            help="link the OCX simulator's demo wallet (GET <url>/sim/demo) to the demo login",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        user = services.user_ensure_demo()
        self.stdout.write("Demo login ready: demo / demo")
        if options["perpex_sim_url"]:
            self._link_perpex(user, options["perpex_sim_url"])
        if options["ocx_sim_url"]:
            self._link_ocx(user, options["ocx_sim_url"])
        if not options["sim_url"]:
            return
        demo = _sim_demo(options["sim_url"])
        try:
            # In place of the demo's links to simulators that ran on other ports before.
            account = services.account_link_demo(
                owner=user,
                token=demo["token"],
                signing_key=demo["signing_key"],
                endpoints=venue_config.configured_endpoints("standx"),
            )
        except services.LinkError as exc:
            raise CommandError(f"Could not link the demo account: {exc}") from None
        self.stdout.write(f"Linked the simulator's demo account {account.short_address}")

    def _link_perpex(self, user: User, url: str) -> None:
        """The PerpEx simulator's demo account, linked once: a link from an earlier run (the
        simulator starts afresh each time) is replaced in the same transaction."""
        demo = _sim_demo(url)
        endpoints = venue_config.configured_endpoints("perpex")
        earlier = ExchangeAccount.objects.filter(owner=user, venue="perpex").filter(
            Q(label=PERPEX_DEMO_LABEL) | Q(origin=endpoints.origin)
        )
        try:
            account = linking.account_link_pasted(
                user,
                "perpex",
                endpoints,
                {"api_key": demo["api_key"]},
                PERPEX_DEMO_LABEL,
                replacing=list(earlier.values_list("pk", flat=True)),
            )
        except services.LinkError as exc:
            raise CommandError(f"Could not link the PerpEx demo account: {exc}") from None
        self.stdout.write(f"Linked the PerpEx simulator's demo account {account.identity}")

    def _link_ocx(self, user: User, url: str) -> None:
        """The OCX simulator's demo wallet, linked for trading by the same wallet sign-in a
        browser makes (the simulator hands out its demo wallet's key, so this command signs).
        A link from an earlier run is dropped first: the simulator starts afresh each time, and
        its keys went with it."""
        demo = _sim_demo(url)
        endpoints = venue_config.configured_endpoints("ocx")
        earlier = ExchangeAccount.objects.filter(owner=user, venue="ocx").filter(
            Q(label=OCX_DEMO_LABEL) | Q(origin=endpoints.origin)
        )
        for old in earlier:
            services.account_unlink(account=old)
        try:
            challenge, message = minting.account_mint_begin(
                owner=user,
                venue_key="ocx",
                address=demo["wallet_address"],
                mode="trading",
                endpoints=endpoints,
            )
            signed = Account.sign_message(
                encode_defunct(text=message), private_key=demo["wallet_private_key"]
            )
            account = minting.account_mint_complete(
                owner=user,
                venue_key="ocx",
                challenge_id=challenge.pk,
                signature="0x" + bytes(signed.signature).hex().removeprefix("0x"),
                label=OCX_DEMO_LABEL,
                endpoints=endpoints,
            )
        except services.LinkError as exc:
            raise CommandError(f"Could not link the OCX demo wallet: {exc}") from None
        self.stdout.write(f"Linked the OCX simulator's demo wallet {account.identity}")
