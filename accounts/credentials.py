"""Stored secrets of linked accounts: seal, open, forget and rotate :class:`Credential` rows.

Each row is sealed with associated data naming its account and kind, and opening checks that the
row's stored ``aad`` is the one its account and kind call for, so a ciphertext (with its ``aad``)
copied to another row does not open. StandX rows created before the Credential table keep their
original strings, which this scheme reproduces (``standx-account:{pk}:token``).

Decrypt only where a request to the venue is made (the worker, an order submission): never to show.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction

from accounts import crypto
from accounts.models import Credential, CredentialKind, ExchangeAccount

# The field names StandX's ciphertexts were sealed under before the Credential table existed.
_LEGACY_FIELD = {
    CredentialKind.STANDX_TOKEN: "token",
    CredentialKind.STANDX_SIGNING_KEY: "signing_key",
}


def credential_aad(account: ExchangeAccount, kind: str) -> str:
    return f"{account.venue}-account:{account.pk}:{_LEGACY_FIELD.get(CredentialKind(kind), kind)}"


def credential_seal(
    account: ExchangeAccount,
    kind: str,
    secret: str,
    *,
    scopes: Iterable[str],
    public_id: str = "",
    expires_at: datetime | None = None,
    meta: dict[str, Any] | None = None,
) -> Credential:
    """Store (or replace) the account's credential of this kind. The account must be saved."""
    aad = credential_aad(account, kind)
    row, _ = Credential.objects.update_or_create(
        account=account,
        kind=kind,
        defaults={
            "secret_encrypted": crypto.encrypt(secret, context=aad),
            "aad": aad,
            "public_id": public_id,
            "scopes": sorted(set(scopes)),
            "expires_at": expires_at,
            "meta": meta or {},
        },
    )
    return row


def credential_open(
    account: ExchangeAccount, row: Credential, *, keys: list[crypto.Key] | None = None
) -> str:
    """The plaintext; :class:`crypto.DecryptionError` if the row is not this account's."""
    if row.account_id != account.pk or row.aad != credential_aad(account, row.kind):
        raise crypto.DecryptionError("The stored credential does not belong to this account.")
    return crypto.decrypt(row.secret_encrypted, context=row.aad, keys=keys)


def credentials_open(account: ExchangeAccount) -> dict[str, str]:
    """Every stored secret of the account by kind (one query, or none when the rows came with
    the account: ``prefetched_credentials``, as the sync's claim loads them)."""
    rows = getattr(account, "prefetched_credentials", None)
    if rows is None:
        rows = list(account.credentials.all())
    return {row.kind: credential_open(account, row) for row in rows}


def credentials_keep_only(account: ExchangeAccount, kinds: Iterable[str]) -> None:
    """Drop the account's credentials of any other kind (a re-link without a signing key)."""
    Credential.objects.filter(account=account).exclude(kind__in=list(kinds)).delete()


def credentials_forget(account_id: int) -> int:
    deleted, _ = Credential.objects.filter(account_id=account_id).delete()
    return deleted


def credentials_rotate(keys: list[crypto.Key]) -> dict[str, int]:
    """Re-seal every credential not under the newest key, one row per transaction."""
    newest = keys[0].id
    counts = {"credentials": 0, "rotated": 0, "already_current": 0}
    for pk in Credential.objects.order_by("pk").values_list("pk", flat=True):
        with transaction.atomic():
            row = Credential.objects.select_for_update().select_related("account").get(pk=pk)
            counts["credentials"] += 1
            if crypto.key_id_of(row.secret_encrypted) == newest:
                counts["already_current"] += 1
                continue
            plain = credential_open(row.account, row, keys=keys)
            row.secret_encrypted = crypto.encrypt(plain, context=row.aad, keys=keys)
            row.save(update_fields=["secret_encrypted", "updated_at"])
            counts["rotated"] += 1
    return counts
