"""StandXAccount becomes ExchangeAccount; its two ciphertext columns become Credential rows.

The ciphertexts are copied as they are (no re-encryption): each row keeps the associated data it
was sealed with, ``standx-account:{pk}:token`` or ``standx-account:{pk}:signing_key``. The four URL
columns become the ``endpoints`` JSON (named as ``venues.standx.URL_NAMES``); the address is the
account's ``identity``.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models
import django.db.models.deletion

_URLS = (("perps", "perps_url"), ("auth", "auth_url"), ("ws", "ws_url"), ("ws_api", "ws_api_url"))


def forward(apps: Any, schema_editor: Any) -> None:
    account_model = apps.get_model("accounts", "ExchangeAccount")
    credential_model = apps.get_model("accounts", "Credential")
    for account in account_model.objects.all().iterator():
        account.endpoints = {name: getattr(account, column) for name, column in _URLS}
        account.origin = account.perps_url
        account.save(update_fields=["endpoints", "origin"])
        if account.token_encrypted:
            credential_model.objects.create(
                account=account,
                kind="standx_token",
                secret_encrypted=account.token_encrypted,
                aad=f"standx-account:{account.pk}:token",
                scopes=["read"],
                expires_at=account.credential_expires_at,
            )
        if account.signing_key_encrypted:
            credential_model.objects.create(
                account=account,
                kind="standx_signing_key",
                secret_encrypted=account.signing_key_encrypted,
                aad=f"standx-account:{account.pk}:signing_key",
                public_id=account.public_key,
                scopes=["trade"],
                expires_at=account.credential_expires_at,
            )


def backward(apps: Any, schema_editor: Any) -> None:
    account_model = apps.get_model("accounts", "ExchangeAccount")
    credential_model = apps.get_model("accounts", "Credential")
    for account in account_model.objects.all().iterator():
        for name, column in _URLS:
            setattr(account, column, account.endpoints.get(name, ""))
        for row in credential_model.objects.filter(account=account):
            if row.kind == "standx_token":
                account.token_encrypted = row.secret_encrypted
            elif row.kind == "standx_signing_key":
                account.signing_key_encrypted = row.secret_encrypted
                account.public_key = row.public_id
        account.save()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_exchange_account_credentials")]

    operations = [migrations.RunPython(forward, backward)]
