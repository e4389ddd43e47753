"""Users made before alert rules existed get the defaults new users get at sign-up."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def create_defaults(apps: Any, schema_editor: Any) -> None:
    from portfolio.domain.alert_rules import default_rules

    User = apps.get_model("accounts", "User")
    AlertRule = apps.get_model("portfolio", "AlertRule")
    AlertSettings = apps.get_model("portfolio", "AlertSettings")
    for user_id in User.objects.values_list("pk", flat=True):
        AlertRule.objects.bulk_create(
            [
                AlertRule(
                    user_id=user_id, key=r.key, metric=r.metric.value,
                    direction=r.direction.value, severity=r.severity.value, trigger=r.trigger,
                    clear=r.clear, pending_seconds=int(r.pending.total_seconds()),
                    repeat_seconds=int(r.repeat.total_seconds()) if r.repeat else None,
                    enabled=r.enabled, position=i,
                )
                for i, r in enumerate(default_rules())
            ],
            ignore_conflicts=True,
        )  # fmt: skip
        AlertSettings.objects.get_or_create(user_id=user_id)


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0002_alerts"), ("accounts", "0001_initial")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
