"""Balances normalized (cash, margin used, available, …) with the venue's own fields kept in
``raw``; a per-bucket balance table; orders say whether a liquidation sent them; positions say
who gave their liquidation price. StandX's rows keep every figure they had."""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

# StandX's query_balance fields, as BalanceSnapshot held them before this migration.
_STANDX_FIELDS = (
    "isolated_balance",
    "isolated_upnl",
    "cross_balance",
    "cross_margin",
    "cross_upnl",
    "locked",
    "cross_available",
    "balance",
    "upnl",
    "equity",
    "pnl_freeze",
)


def money(**kwargs: Any) -> models.DecimalField:
    return models.DecimalField(max_digits=36, decimal_places=18, **kwargs)


def forward(apps: Any, schema_editor: Any) -> None:
    snapshot = apps.get_model("portfolio", "BalanceSnapshot")
    for row in snapshot.objects.all().iterator(chunk_size=2000):
        row.cash = row.balance
        row.margin_used = row.cross_margin + row.isolated_balance
        row.available = row.cross_available
        row.realized_24h = row.pnl_freeze
        row.raw = {name: format(getattr(row, name).normalize(), "f") for name in _STANDX_FIELDS}
        row.save(update_fields=["cash", "margin_used", "available", "realized_24h", "raw"])
    order = apps.get_model("portfolio", "Order")
    order.objects.exclude(liq_id=0).update(is_liquidation=True)


def backward(apps: Any, schema_editor: Any) -> None:
    from decimal import Decimal

    snapshot = apps.get_model("portfolio", "BalanceSnapshot")
    for row in snapshot.objects.all().iterator(chunk_size=2000):
        for name in _STANDX_FIELDS:
            if name in ("cross_balance", "cross_upnl", "locked", "upnl", "equity"):
                continue
            setattr(row, name, Decimal(row.raw.get(name, "0")))
        row.save()
    apps.get_model("portfolio", "Order").objects.filter(is_liquidation=True).update(liq_id=1)


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0011_text_exchange_ids")]

    operations = [
        migrations.AddField("balancesnapshot", "cash", money(null=True)),
        migrations.AddField("balancesnapshot", "margin_used", money(null=True)),
        migrations.AddField("balancesnapshot", "available", money(null=True)),
        migrations.AddField("balancesnapshot", "maint_margin", money(null=True)),
        migrations.AddField("balancesnapshot", "realized_24h", money(null=True)),
        migrations.AddField("balancesnapshot", "raw", models.JSONField(default=dict)),
        migrations.AlterField("balancesnapshot", "cross_balance", money(null=True)),
        migrations.AlterField("balancesnapshot", "cross_upnl", money(null=True)),
        migrations.AddField("order", "is_liquidation", models.BooleanField(default=False)),
        migrations.AddField(
            "position", "liq_source", models.CharField(default="reported", max_length=10)
        ),
        migrations.CreateModel(
            name="BalanceBucket",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("bucket", models.CharField(max_length=20)),
                ("asset", models.CharField(max_length=20)),
                ("available", money()),
                ("locked", money()),
                ("total", money()),
                ("usd_value", money(null=True)),
                ("updated_at", models.DateTimeField()),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="balance_buckets",
                        to="accounts.exchangeaccount",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "bucket", "asset"), name="balancebucket_once"
                    )
                ]
            },
        ),
        migrations.RunPython(forward, backward),
    ]
