"""OCX's positions and markets: a position is one per (account, symbol, position key), since OCX
keys its positions by market and margin mode (an isolated one beside the portfolio one); existing
rows get the empty key, one per symbol as before. A market may publish no largest order and no
price band (OCX, PerpEx): those columns take None."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portfolio", "0014_instrument_kinds"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="position",
            name="one_position_per_symbol",
        ),
        migrations.AddField(
            model_name="position",
            name="position_key",
            field=models.CharField(blank=True, default="", max_length=20),
        ),
        migrations.AlterField(
            model_name="marketsymbol",
            name="max_order_qty",
            field=models.DecimalField(decimal_places=18, max_digits=36, null=True),
        ),
        migrations.AlterField(
            model_name="marketsymbol",
            name="price_cap_ratio",
            field=models.DecimalField(decimal_places=20, max_digits=40, null=True),
        ),
        migrations.AlterField(
            model_name="marketsymbol",
            name="price_floor_ratio",
            field=models.DecimalField(decimal_places=20, max_digits=40, null=True),
        ),
        migrations.AddConstraint(
            model_name="position",
            constraint=models.UniqueConstraint(
                fields=("account", "symbol", "position_key"), name="one_position_per_key"
            ),
        ),
    ]
