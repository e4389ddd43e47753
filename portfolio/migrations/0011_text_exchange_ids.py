"""Exchange ids and sync cursors become text (venues' ids are not all integers); the orders
page pages by (created_at, id) like the trades page, so every order gets a creation time."""

from __future__ import annotations

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0010_alert_email"), ("accounts", "0006_old_columns_dropped")]

    operations = [
        migrations.RemoveIndex(model_name="order", name="order_recent"),
        migrations.RemoveIndex(model_name="trade", name="trade_recent"),
        migrations.AlterField(
            model_name="position",
            name="exchange_id",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AlterField(
            model_name="order", name="exchange_id", field=models.CharField(max_length=64)
        ),
        migrations.AlterField(
            model_name="trade", name="exchange_id", field=models.CharField(max_length=64)
        ),
        migrations.AlterField(
            model_name="trade",
            name="order_exchange_id",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="exchange_order_id",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.RunSQL(
            "UPDATE portfolio_auditentry SET exchange_order_id = '' WHERE exchange_order_id IS NULL",
            migrations.RunSQL.noop,
        ),
        # Deferred foreign-key checks of the rows just updated run now, so the next ALTER TABLE
        # does not meet "pending trigger events".
        migrations.RunSQL("SET CONSTRAINTS ALL IMMEDIATE", migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="auditentry",
            name="exchange_order_id",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AlterField(
            model_name="syncstate",
            name="trade_cursor",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AlterField(
            model_name="syncstate",
            name="order_cursor",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.RunSQL(
            "UPDATE portfolio_syncstate SET trade_cursor = COALESCE(trade_cursor, ''),"
            " order_cursor = COALESCE(order_cursor, '')",
            migrations.RunSQL.noop,
        ),
        # Deferred foreign-key checks of the rows just updated run now, so the next ALTER TABLE
        # does not meet "pending trigger events".
        migrations.RunSQL("SET CONSTRAINTS ALL IMMEDIATE", migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="syncstate",
            name="trade_cursor",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name="syncstate",
            name="order_cursor",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RunSQL(
            "UPDATE portfolio_order SET created_at = COALESCE(updated_at, now())"
            " WHERE created_at IS NULL",
            migrations.RunSQL.noop,
        ),
        # Deferred foreign-key checks of the rows just updated run now, so the next ALTER TABLE
        # does not meet "pending trigger events".
        migrations.RunSQL("SET CONSTRAINTS ALL IMMEDIATE", migrations.RunSQL.noop),
        migrations.AlterField(
            model_name="order",
            name="created_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddIndex(
            model_name="order",
            index=models.Index(fields=["account", "-created_at", "-id"], name="order_recent"),
        ),
    ]
