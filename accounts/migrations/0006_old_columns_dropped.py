"""The old URL and ciphertext columns, now copied (0005), are dropped."""

from __future__ import annotations

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0005_credentials_copied")]

    operations = [
        migrations.RemoveField("exchangeaccount", "perps_url"),
        migrations.RemoveField("exchangeaccount", "auth_url"),
        migrations.RemoveField("exchangeaccount", "ws_url"),
        migrations.RemoveField("exchangeaccount", "ws_api_url"),
        migrations.RemoveField("exchangeaccount", "public_key"),
        migrations.RemoveField("exchangeaccount", "token_encrypted"),
        migrations.RemoveField("exchangeaccount", "signing_key_encrypted"),
        migrations.AddConstraint(
            model_name="exchangeaccount",
            constraint=models.UniqueConstraint(
                fields=("owner", "venue", "identity", "origin"), name="unique_link_per_owner"
            ),
        ),
    ]
