"""Number formatting for Decimal figures: grouped, explicit places, never through float."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def num(value: object, places: int | str | None = None) -> str:
    """``{{ x|num:2 }}`` → "12,345.68"; without places, as many as the value has ("0.0015")."""
    if value is None or value == "":
        return "—"
    try:
        d = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if places is not None and str(places) != "":
        d = d.quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)
        return f"{d:,.{int(places)}f}"
    d = d.normalize()
    exponent = d.as_tuple().exponent
    shown = max(0, -exponent) if isinstance(exponent, int) else 0
    return f"{d:,.{shown}f}"


@register.filter
def signed(value: object, places: int | str = 2) -> str:
    """Like ``num`` with an explicit sign: "+12.50", "-3.10"."""
    text = num(value, places)
    return text if text.startswith("-") or text == "—" else f"+{text}"


@register.filter
def age(seconds: int | None) -> str:
    """Seconds as a short age: "4 s", "10 min", "3 h", "2 d"."""
    if seconds is None:
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{max(0, seconds)} s"
