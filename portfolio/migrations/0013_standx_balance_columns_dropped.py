"""The StandX-only balance columns and ``liq_id``, copied by 0012, are dropped."""

from __future__ import annotations

from django.db import migrations, models


def money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=36, decimal_places=18, **kwargs)  # type: ignore[arg-type]


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0012_normalized_balances")]

    operations = [
        migrations.RemoveField("balancesnapshot", "isolated_balance"),
        migrations.RemoveField("balancesnapshot", "isolated_upnl"),
        migrations.RemoveField("balancesnapshot", "cross_margin"),
        migrations.RemoveField("balancesnapshot", "cross_available"),
        migrations.RemoveField("balancesnapshot", "balance"),
        migrations.RemoveField("balancesnapshot", "pnl_freeze"),
        migrations.AlterField("balancesnapshot", "cash", money()),
        migrations.AlterField("balancesnapshot", "margin_used", money()),
        migrations.RemoveField("order", "liq_id"),
    ]
