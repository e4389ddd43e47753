"""Forms of the alert pages: rule thresholds and delivery settings."""

from __future__ import annotations

import zoneinfo
from decimal import Decimal
from functools import cache
from typing import Any

from django import forms
from django.forms import BaseModelFormSet, modelformset_factory

from portfolio.alerts.evaluation import rule_of
from portfolio.domain import alert_text
from portfolio.domain.alert_rules import Direction, Metric, Severity, default_rules
from portfolio.models import AlertRule, AlertSettings


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(z, z.replace("_", " ")) for z in sorted(zoneinfo.available_timezones())]


class AlertRuleForm(forms.ModelForm):
    """One rule's thresholds. Values are shown in the metric's own units (funding in %)."""

    severity = forms.ChoiceField(choices=[(s.value, s.value.title()) for s in Severity])

    class Meta:
        model = AlertRule
        fields = ["enabled", "severity", "trigger", "clear", "pending_seconds", "repeat_seconds"]
        labels = {
            "pending_seconds": "Pending (s)",
            "repeat_seconds": "Repeat every (s)",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("trigger", "clear", "pending_seconds", "repeat_seconds"):
            self.fields[name].widget.attrs.update({"inputmode": "decimal", "size": 8})
        self.fields["repeat_seconds"].help_text = "Empty: notify once."
        for name in ("trigger", "clear"):
            value = self.initial.get(name)
            if isinstance(value, Decimal):  # 2, not 2.0000000000
                self.initial[name] = format(value.normalize(), "f")

    @property
    def info(self) -> alert_text.MetricInfo:
        try:
            return alert_text.METRICS[Metric(self.instance.metric)]
        except ValueError:  # a form whose rule id was not the user's: shown with its error
            return alert_text.MetricInfo("Unknown rule", "", 0)

    @property
    def bad_when(self) -> str:
        return "below" if self.instance.direction == Direction.BELOW else "above"

    def clean_trigger(self) -> Decimal:
        return self._positive("trigger")

    def clean_clear(self) -> Decimal:
        return self._positive("clear")

    def _positive(self, name: str) -> Decimal:
        value: Decimal = self.cleaned_data[name]
        if value < 0:
            raise forms.ValidationError("Must be zero or more.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        trigger, clear = data.get("trigger"), data.get("clear")
        if trigger is not None and clear is not None:
            below = self.instance.direction == Direction.BELOW
            if (below and clear < trigger) or (not below and clear > trigger):
                side = "at or above" if below else "at or below"
                self.add_error(
                    "clear",
                    f"The clear level must be {side} the trigger ({trigger}), or the alert "
                    "would flap.",
                )
        return data


RULES_CHANGED = "The list of rules changed: reload the page."


class BaseRuleFormSet(BaseModelFormSet):
    # More forms than a user has rules: the formset refuses before it builds them.
    default_error_messages = {"too_many_forms": RULES_CHANGED}

    def clean(self) -> None:
        super().clean()
        # Rules are edited, never added here: a changed form count is a stale or forged page.
        if self.total_form_count() != self.initial_form_count():
            raise forms.ValidationError(RULES_CHANGED)

    def rules(self) -> list[tuple[AlertRule, Any]]:
        """The rules as submitted (unsaved), for the preview."""
        out = []
        for form in self.initial_forms:
            row: AlertRule = form.instance
            for name, value in form.cleaned_data.items():
                setattr(row, name, value)
            out.append((row, rule_of(row)))
        return out


# A user has one rule per default rule: a forged form count must not build 2,000 forms.
RULES_AT_MOST = len(default_rules())
AlertRuleFormSet = modelformset_factory(
    AlertRule,
    form=AlertRuleForm,
    formset=BaseRuleFormSet,
    extra=0,
    can_delete=False,
    edit_only=True,
    max_num=RULES_AT_MOST,
    absolute_max=RULES_AT_MOST,
)


class AlertSettingsForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=time_zone_choices, label="Time zone")

    class Meta:
        model = AlertSettings
        fields = ["time_zone", "quiet_start", "quiet_end", "email_critical", "email_repeats"]
        labels = {
            "quiet_start": "Quiet hours from",
            "quiet_end": "Quiet hours until",
            "email_critical": "Email me critical alerts",
            "email_repeats": "Email the 5-minute reminders too",
        }
        help_texts = {
            "quiet_start": "Warnings wait during quiet hours; critical alerts always come.",
            "email_critical": "One email per critical episode, to your verified address below, "
            "as a fallback to the browser.",
            "email_repeats": "Off: a lasting critical alert is emailed once, not every 5 minutes.",
        }
        widgets = {
            "quiet_start": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
            "quiet_end": forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("quiet_start") is None) != (data.get("quiet_end") is None):
            raise forms.ValidationError("Give both ends of the quiet hours, or neither.")
        return data


class AlertEmailForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        required=False,
        help_text="Critical alerts go here once you open the link we send to it. Empty: none.",
    )


class SnoozeForm(forms.Form):
    minutes = forms.TypedChoiceField(
        choices=[
            (0, "End snooze"),
            (30, "30 minutes"),
            (60, "1 hour"),
            (240, "4 hours"),
            (720, "12 hours"),
        ],
        coerce=int,
    )
