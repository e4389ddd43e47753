"""Contract 5: link an account from files (for operators and tests; browsers use the flows)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import services, venue_config
from accounts.models import User
from venues.base import Endpoints


class Command(BaseCommand):
    help = "Link a StandX account to a user from a token file (and a signing-key file to trade)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="the dashboard username")
        parser.add_argument("--token-file", required=True, type=Path)
        parser.add_argument("--signing-key-file", type=Path)
        parser.add_argument("--perps-url", help="the exchange's perps URL (default: settings)")
        parser.add_argument("--auth-url", help="the exchange's auth URL (default: perps URL)")
        parser.add_argument("--label", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["user"])
        except User.DoesNotExist:
            raise CommandError(f"No user named {options['user']!r}.") from None
        token = _read(options["token_file"], "token")
        key = (
            _read(options["signing_key_file"], "signing key")
            if options["signing_key_file"]
            else None
        )
        endpoints = venue_config.endpoints_at("standx", options["perps_url"] or "")
        if options["perps_url"] and options["auth_url"]:
            endpoints = Endpoints({**endpoints.urls, "auth": options["auth_url"].rstrip("/")})
        try:
            account = services.account_link_with_token(
                owner=user,
                label=options["label"],
                token=token,
                signing_key=key,
                endpoints=endpoints,
            )
        except services.LinkError as exc:
            raise CommandError(str(exc)) from None
        expiry = (
            account.credential_expires_at.isoformat() if account.credential_expires_at else "none"
        )
        self.stdout.write(
            f"Linked account {account.pk} “{account.label}” for {user.username}: "
            f"{account.get_mode_display().lower()}, {account.chain} {account.address}, "
            f"public key {account.signing_public_key or '-'}, token expires {expiry}"
        )


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise CommandError(f"Cannot read the {what} file {path}: {exc.strerror}") from None
