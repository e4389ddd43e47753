"""Print a new VAPID key pair for Web Push, as environment lines."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from standx_web.vapid import generate_private_key, public_key_of


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair (VAPID_PRIVATE_KEY, VAPID_PUBLIC_KEY). Keep it: browsers "
        "subscribe to its public key, so a new pair means every device turns push on again."
    )

    requires_system_checks: list[str] = []  # runs before the rest of the set-up exists

    def handle(self, *args: Any, **options: Any) -> None:
        private = generate_private_key()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}")
        self.stdout.write(f"VAPID_PUBLIC_KEY={public_key_of(private)}")
        self.stdout.write(
            "VAPID_SUBJECT=mailto:you@example.com  # an address push services can reach"
        )
