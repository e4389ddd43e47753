"""Forms of the trading pages. Validation is ``portfolio.domain.order_rules``; these only parse."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from django import forms
from django.db.models import F, Sum

from accounts.models import ExchangeAccount
from portfolio.domain import order_rules, plain_numbers
from portfolio.domain.order_rules import SYMBOL_TRADING as TRADING
from portfolio.models import Order, Position
from portfolio.trading import services as trading
from venues import registry

KILL_PHRASE = "CLOSE ALL"


N = TypeVar("N", Decimal, int)


def _plain(field: forms.Field, value: Any, parse: Callable[[str], N | None]) -> N | None:
    """``value`` as typed, read by ``parse`` (nothing is stripped or converted first)."""
    if value in field.empty_values:
        return None
    parsed = parse(str(value))
    if parsed is None:
        raise forms.ValidationError(field.error_messages["invalid"], code="invalid")
    return parsed


class PlainDecimalField(forms.DecimalField):
    """An amount to trade with: plain digits and at most one point; anything else is refused
    with advice."""

    default_error_messages = {"invalid": plain_numbers.ADVICE}

    # django-stubs gives DecimalField the to_python of IntegerField, its base class.
    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]
        return _plain(self, value, plain_numbers.plain_decimal)


class PlainIntegerField(forms.IntegerField):
    """A whole number to trade with (leverage): plain digits only."""

    default_error_messages = {"invalid": plain_numbers.ADVICE.replace("0.5", "10")}

    def to_python(self, value: Any) -> int | None:
        return _plain(self, value, plain_numbers.plain_integer)


def _decimal(label: str, *, required: bool = False) -> PlainDecimalField:
    return PlainDecimalField(
        label=label,
        required=required,
        max_digits=30,
        decimal_places=18,
        min_value=Decimal(0),
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )


def _leverage(label: str) -> PlainIntegerField:
    return PlainIntegerField(
        label=label,
        required=False,
        min_value=1,
        max_value=1000,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )


class TradableSymbolField(forms.ChoiceField):
    """Offers the symbols StandX takes orders in; names a listed but closed one in plain words
    (a page opened before a halt still posts it) instead of "not one of the available choices"."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.closed: dict[str, str] = {}  # symbol -> its status, for the listed non-trading ones

    def validate(self, value: Any) -> None:
        if value in self.closed:
            raise forms.ValidationError(order_rules.closed_market(value, self.closed[value]))
        super().validate(value)


TIME_IN_FORCE = [
    ("gtc", "GTC: good till canceled"),
    ("ioc", "IOC: immediate or cancel"),
    ("fok", "FOK: fill or kill"),
    ("alo", "ALO: add liquidity only (post-only)"),
]


class OrderForm(forms.Form):
    account = forms.TypedChoiceField(coerce=int)
    symbol = TradableSymbolField()
    side = forms.ChoiceField(
        choices=[("buy", "Buy / long"), ("sell", "Sell / short")], widget=forms.RadioSelect
    )
    order_type = forms.ChoiceField(
        label="Type", choices=[("limit", "Limit"), ("market", "Market")], widget=forms.RadioSelect
    )
    qty = _decimal("Quantity", required=True)
    price = _decimal("Limit price")
    time_in_force = forms.ChoiceField(label="Time in force", choices=TIME_IN_FORCE)
    post_only = forms.BooleanField(
        label="Post-only", required=False, help_text="Rejected instead of taking liquidity."
    )
    reduce_only = forms.BooleanField(label="Reduce-only", required=False)
    tp_price = _decimal("Take-profit price")
    sl_price = _decimal("Stop-loss price")
    leverage = _leverage("Leverage (×)")
    margin_mode = forms.ChoiceField(
        label="Margin mode",
        required=False,
        choices=[
            ("", "As the position (cross if none)"),
            ("cross", "Cross"),
            ("isolated", "Isolated"),
        ],
    )
    cl_ord_id = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, user_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_id = user_id
        accounts = ExchangeAccount.objects.filter(owner_id=user_id).order_by("label")
        self.trading_accounts = [a for a in accounts if a.can_trade]
        self.fields["account"].choices = [(a.pk, a.label) for a in self.trading_accounts]  # type: ignore[attr-defined]
        venues = {a.venue for a in self.trading_accounts}
        listed = trading.MarketSymbol.objects.filter(enabled=True, venue__in=venues)
        statuses = dict(listed.order_by("symbol").values_list("symbol", "status"))
        symbol_field = self.fields["symbol"]
        assert isinstance(symbol_field, TradableSymbolField)
        symbol_field.choices = [(s, s) for s, status in statuses.items() if status == TRADING]
        symbol_field.closed = {s: status for s, status in statuses.items() if status != TRADING}
        self._offer_what_the_venues_can_do(venues)
        self.ticket: order_rules.Ticket | None = None
        self.rules: order_rules.SymbolRules | None = None
        self.position = order_rules.PositionState()
        self.mark: Decimal | None = None

    def _offer_what_the_venues_can_do(self, venues: set[str]) -> None:
        """Capabilities decide the fields: the times in force, post-only and leverage and
        margin-mode changes that at least one of the user's trading venues offers."""
        caps = [registry.adapter(v).capabilities for v in sorted(venues)]
        offered = set().union(*(c.time_in_force for c in caps)) if caps else {"gtc", "ioc"}
        tif = self.fields["time_in_force"]
        assert isinstance(tif, forms.ChoiceField)
        tif.choices = [(k, label) for k, label in TIME_IN_FORCE if k in offered]
        if not any(c.post_only == "flag" for c in caps):
            del self.fields["post_only"]
        if caps and not any(c.set_leverage for c in caps):
            del self.fields["leverage"]
        if caps and not any(c.set_margin_mode for c in caps):
            del self.fields["margin_mode"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        account = next(a for a in self.trading_accounts if str(a.pk) == str(data["account"]))
        adapter = registry.adapter(account.venue)
        if data["time_in_force"] not in adapter.capabilities.time_in_force:
            self.add_error(
                "time_in_force",
                f"{adapter.name} does not offer {data['time_in_force'].upper()}; choose another.",
            )
            return data
        symbol = data["symbol"]
        self.rules = trading.symbol_rules(account.venue, symbol)
        self.mark = trading.order_mark(account, symbol) if self.rules else None
        if self.rules is None or self.mark is None:
            raise forms.ValidationError(
                f"No market data for {symbol} yet, and the exchange did not send its price "
                "just now; try again in a moment."
            )
        self.position = position_state(data["account"], symbol)
        # A market order never rests: what StandX does with it is immediate-or-cancel, so that
        # is what is sent and logged, whatever the (limit-minded) GTC default of the form said.
        if data["order_type"] == "market" and data["time_in_force"] == "gtc":
            data["time_in_force"] = "ioc"
        self.ticket = order_rules.Ticket(
            symbol=symbol,
            side=data["side"],
            order_type=data["order_type"],
            qty=data["qty"],
            price=data.get("price"),
            time_in_force=data["time_in_force"],
            reduce_only=bool(data.get("reduce_only")),
            tp_price=data.get("tp_price"),
            sl_price=data.get("sl_price"),
            leverage=data.get("leverage"),
            margin_mode=data.get("margin_mode") or None,
            post_only=bool(data.get("post_only")),
        )
        for field, messages in order_rules.validate(
            self.ticket, self.rules, self.position, self.mark
        ).items():
            for message in messages:
                self.add_error(field, message)
        return data


def position_state(account_id: int, symbol: str) -> order_rules.PositionState:
    """The stored position and its pending reduce-only quantity (TP/SL included)."""
    p = Position.objects.filter(account_id=account_id, symbol=symbol).first()
    if p is None:
        return order_rules.PositionState()
    pending = Order.objects.filter(
        account_id=account_id, symbol=symbol, reduce_only=True, status__in=["open", "untriggered"]
    ).aggregate(left=Sum(F("qty") - F("fill_qty")))["left"] or Decimal(0)
    return order_rules.PositionState(
        qty=p.qty,
        entry_price=p.entry_price,
        margin_mode=p.margin_mode,
        leverage=p.leverage,
        holding_margin=p.holding_margin,
        maint_margin=p.maint_margin or Decimal(0),
        pending_reduce_only=pending,
    )


class KillSwitchForm(forms.Form):
    """Cancel everything and close everything on one account: typed phrase and password."""

    account = forms.TypedChoiceField(coerce=int)
    phrase = forms.CharField(label=f'Type "{KILL_PHRASE}" to confirm', max_length=20)
    password = forms.CharField(label="Your password", widget=forms.PasswordInput)

    def __init__(self, *args: Any, user: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        accounts = ExchangeAccount.objects.filter(owner_id=user.pk).order_by("label")
        self.fields["account"].choices = [(a.pk, a.label) for a in accounts if a.can_trade]  # type: ignore[attr-defined]

    def clean_phrase(self) -> str:
        phrase = str(self.cleaned_data["phrase"]).strip()
        if phrase != KILL_PHRASE:
            raise forms.ValidationError(f'Type exactly "{KILL_PHRASE}".')
        return phrase

    def clean_password(self) -> str:
        password = str(self.cleaned_data["password"])
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password


class PositionAdjustForm(forms.Form):
    """Add isolated margin, change leverage or change margin mode of one symbol."""

    ACTIONS = {"add_margin": "amount", "leverage": "leverage", "margin_mode": "margin_mode"}

    account = forms.TypedChoiceField(coerce=int)
    symbol = forms.ChoiceField()
    amount = _decimal("Margin to add (DUSD)")
    leverage = _leverage("New leverage (×)")
    margin_mode = forms.ChoiceField(
        label="New margin mode",
        required=False,
        choices=[("", "—"), ("cross", "Cross"), ("isolated", "Isolated")],
    )
    action = forms.ChoiceField(choices=[(a, a) for a in ACTIONS], widget=forms.HiddenInput)

    def __init__(self, *args: Any, user_id: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = ExchangeAccount.objects.filter(owner_id=user_id).order_by("label")
        self.trading_accounts = [a for a in accounts if a.can_trade]
        self.fields["account"].choices = [(a.pk, a.label) for a in self.trading_accounts]  # type: ignore[attr-defined]
        venues = {a.venue for a in self.trading_accounts}
        symbols = trading.MarketSymbol.objects.filter(enabled=True, venue__in=venues)
        symbols = symbols.order_by("symbol")
        self.fields["symbol"].choices = [(s, s) for s in symbols.values_list("symbol", flat=True)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        action = data.get("action")
        if action in self.ACTIONS:
            field = self.ACTIONS[action]
            if data.get(field) in (None, ""):
                self.add_error(field, "Enter a value for this change.")
            elif field == "amount" and data[field] <= 0:
                self.add_error(field, "Enter an amount above zero.")
            elif field == "leverage":
                venue = next(
                    (a.venue for a in self.trading_accounts if str(a.pk) == str(data["account"])),
                    "",
                )
                rules = trading.symbol_rules(venue, data.get("symbol", ""))
                if rules is not None and data[field] > rules.max_leverage:
                    most = rules.max_leverage.normalize()
                    self.add_error(field, f"{rules.symbol} allows at most {most:f}× leverage.")
        return data
