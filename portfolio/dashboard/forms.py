"""Forms of the dashboard pages: history filters and the stress test."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms


class HistoryFilterForm(forms.Form):
    """The filters of the order and trade pages (GET). Dates are whole days in UTC."""

    account = forms.TypedChoiceField(coerce=int, required=False, empty_value=None)
    symbol = forms.ChoiceField(required=False)
    side = forms.ChoiceField(
        required=False, choices=[("", "Both sides"), ("buy", "Buy"), ("sell", "Sell")]
    )
    start = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(
        self, *args: Any, accounts: list[tuple[int, str]], symbols: list[str], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", "All accounts"), *accounts]  # type: ignore[attr-defined]
        self.fields["symbol"].choices = [("", "All symbols"), *((s, s) for s in symbols)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end and end < start:
            self.add_error("end", "The end date is before the start date.")
        return data


class StressForm(forms.Form):
    """The positions page's stress slider: move one symbol's mark (or all) by a percentage."""

    symbol = forms.ChoiceField(required=False)
    pct = forms.DecimalField(
        label="Move", min_value=Decimal(-90), max_value=Decimal(90), decimal_places=2
    )

    def __init__(self, *args: Any, symbols: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["symbol"].choices = [("", "All symbols"), *((s, s) for s in symbols)]  # type: ignore[attr-defined]
