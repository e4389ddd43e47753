from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts import services


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored exchange credential (row by row) and authenticator secret under "
        "the first key of CREDENTIAL_KEYS. Put the new key first, run this, then remove the old "
        "key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = services.rotate_credential_keys()
        self.stdout.write(
            f"credentials: {counts['credentials']}, re-encrypted: {counts['rotated']}, "
            f"already current: {counts['already_current']}, "
            f"pending sign-ins dropped: {counts['challenges_dropped']}, "
            f"authenticator secrets re-encrypted: {counts['totp_rotated']}"
        )
