"""StandXAccount becomes ExchangeAccount; its two ciphertext columns become Credential rows.

The ciphertexts are copied as they are (no re-encryption): each row keeps the associated data it
was sealed with, ``standx-account:{pk}:token`` or ``standx-account:{pk}:signing_key``. The four URL
columns become the ``endpoints`` JSON (named as ``venues.standx.URL_NAMES``); the address is the
account's ``identity``.
"""

from __future__ import annotations

from django.db import migrations, models
import django.db.models.deletion

class Migration(migrations.Migration):
    # After every portfolio migration that names the old model, so each of them still finds it.
    dependencies = [("accounts", "0003_venue_keys"), ("portfolio", "0010_alert_email")]

    operations = [
        migrations.RenameModel("StandXAccount", "ExchangeAccount"),
        migrations.RemoveConstraint(model_name="exchangeaccount", name="unique_link_per_owner"),
        migrations.RenameField("exchangeaccount", "address", "identity"),
        migrations.RenameField("exchangeaccount", "token_expires_at", "credential_expires_at"),
        migrations.AlterField(
            model_name="exchangeaccount",
            name="owner",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="exchange_accounts",
                to="accounts.user",
            ),
        ),
        migrations.AlterField(
            model_name="exchangeaccount",
            name="chain",
            field=models.CharField(
                blank=True,
                choices=[("bsc", "BNB Chain (EVM)"), ("solana", "Solana")],
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="exchangeaccount", name="endpoints", field=models.JSONField(default=dict)
        ),
        migrations.AddField(
            model_name="exchangeaccount",
            name="origin",
            field=models.CharField(default="", max_length=200),
            preserve_default=False,
        ),
        migrations.CreateModel(
            name="Credential",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("standx_token", "StandX API token"),
                            ("standx_signing_key", "StandX request-signing key"),
                            ("perpex_bearer", "PerpEx API key"),
                            ("ocx_session", "OCX session"),
                            ("ocx_api_key_read", "OCX read key"),
                            ("ocx_api_key_trade", "OCX trade key"),
                        ],
                        max_length=30,
                    ),
                ),
                ("secret_encrypted", models.TextField(editable=False)),
                ("aad", models.CharField(editable=False, max_length=200)),
                ("public_id", models.CharField(blank=True, max_length=100)),
                ("scopes", models.JSONField(default=list)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                ("meta", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="credentials",
                        to="accounts.exchangeaccount",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "kind"), name="credential_once_per_kind"
                    )
                ]
            },
        ),
    ]
