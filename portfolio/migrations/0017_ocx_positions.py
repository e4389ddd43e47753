"""OCX's positions and markets: a position is one per (account, symbol, position key), since OCX
keys its positions by market and margin mode (an isolated one beside the portfolio one); existing
rows get the empty key, one per symbol as before. (That a market may publish no largest order
and no price band came with 0015.)"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("portfolio", "0016_account_stream_leases"),
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
        migrations.AddConstraint(
            model_name="position",
            constraint=models.UniqueConstraint(
                fields=("account", "symbol", "position_key"), name="one_position_per_key"
            ),
        ),
    ]
