"""Words for alerts: what a rule watches and what a notification says. Pure, no Django."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from portfolio.domain import fixes
from portfolio.domain.alert_rules import Direction, Kind, Metric, Rule, Severity


@dataclass(frozen=True)
class MetricInfo:
    label: str  # "Margin health"
    unit: str  # appended to values ("×", "%", …)
    places: int  # decimals shown
    scale: Decimal = Decimal(1)  # display = value x scale (funding rates as percent)
    help: str = ""
    per_position: bool = True


METRICS: dict[Metric, MetricInfo] = {
    Metric.HEALTH: MetricInfo(
        "Margin health",
        "×",
        2,
        help="Equity over maintenance margin: liquidation at 1×. Cross positions share "
        "their account's cross health.",
    ),
    Metric.LIQ_DISTANCE_PCT: MetricInfo(
        "Distance to liquidation", "%", 2, help="How far the mark may move before liquidation."
    ),
    Metric.DRAWDOWN_PCT: MetricInfo(
        "Drawdown from 24 h peak",
        "%",
        2,
        per_position=False,
        help="Equity now against its highest point in the last 24 hours.",
    ),
    Metric.LEVERAGE: MetricInfo(
        "Effective leverage",
        "×",
        2,
        per_position=False,
        help="Total position notional over account equity.",
    ),
    Metric.POSITION_NOTIONAL: MetricInfo(
        "Position size", " DUSD", 0, help="Notional at the mark price."
    ),
    Metric.FUNDING_RATE_ABS: MetricInfo(
        "Funding rate",
        "%",
        4,
        Decimal(100),
        help="The current funding rate per interval, either sign, for a symbol you hold.",
    ),
    Metric.TOKEN_EXPIRY_HOURS: MetricInfo(
        "API token expires in",
        " h",
        0,
        per_position=False,
        help="Hours until the linked StandX token stops working: re-link before then.",
    ),
    Metric.DATA_AGE_S: MetricInfo(
        "Data age",
        " s",
        0,
        per_position=False,
        help="Seconds since the last successful sync: above this your monitor is blind.",
    ),
    Metric.LIQUIDATED: MetricInfo(
        "Liquidation", "", 0, help="A liquidation order ran on the account in the last hour."
    ),
}


def fmt_value(metric: Metric, value: Decimal) -> str:
    info = METRICS[metric]
    shown = (value * info.scale).quantize(Decimal(1).scaleb(-info.places), ROUND_HALF_UP)
    text = f"{shown:,.{info.places}f}" if info.places else f"{shown:,.0f}"
    return f"{text}{info.unit}"


def scope_name(account_label: str, symbol: str) -> str:
    return f"{symbol} ({account_label})" if symbol else account_label


def title(
    kind: Kind, rule: Rule, account_label: str, symbol: str, value: Decimal, *, closed: bool = False
) -> str:
    """The notification's title: what, where, how bad."""
    where = scope_name(account_label, symbol)
    if closed:
        # Its last value is from before the close: "back to 1.20×" would read as a recovery.
        return f"Resolved: {where} position closed"
    if rule.metric == Metric.LIQUIDATED:
        if kind == Kind.RESOLVED:
            return f"Resolved: {where} liquidation is over an hour old"
        return f"Critical: {where} was liquidated"
    label = METRICS[rule.metric].label.lower()
    shown = fmt_value(rule.metric, value)
    if kind == Kind.RESOLVED:
        return f"Resolved: {where} {label} back to {shown}"
    severity = "Critical" if rule.severity == Severity.CRITICAL else "Warning"
    prefix = f"Still {severity.lower()}" if kind == Kind.REPEATED else severity
    return f"{prefix}: {where} {label} {shown}"


def body(kind: Kind, rule: Rule, value: Decimal, *, closed: bool = False) -> str:
    """One sentence: the value against the rule's thresholds."""
    if closed:
        return "The position was closed, so the alert is over."
    if rule.metric == Metric.LIQUIDATED:
        return (
            "StandX ran a liquidation order on this position. Check the account's margin."
            if kind != Kind.RESOLVED
            else "No liquidation in the last hour."
        )
    info = METRICS[rule.metric]
    shown = fmt_value(rule.metric, value)
    side = "below" if rule.direction == Direction.BELOW else "above"
    if kind == Kind.RESOLVED:
        clear = fmt_value(rule.metric, rule.clear)
        return f"{info.label} is {shown}, past the clear level {clear}."
    return (
        f"{info.label} is {shown}: alert {side} {fmt_value(rule.metric, rule.trigger)}, "
        f"clears at {fmt_value(rule.metric, rule.clear)}."
    )


def fix_sentence(action: fixes.Action, target: Decimal) -> str:
    """What to do, in one sentence: "Reduce SOL-USD by 6 to get back to 2.00×."."""
    back = f"to get back to {fmt_value(Metric.HEALTH, target)}"
    amount = f"{action.amount.normalize():f}"
    if action.kind == fixes.REDUCE:
        return f"Reduce {action.symbol} by {amount} {back}."
    if action.kind == fixes.CLOSE:
        return f"Close {action.symbol} ({amount}) {back}."
    money = f"{action.amount:,.2f}"
    if action.kind == fixes.ADD_MARGIN:
        return f"Add {money} margin to {action.symbol} {back}."
    return f"Transfer {money} into the cross margin {back}."


def fix_outcome(action: fixes.Action) -> str:
    """What the action leaves: "health 2.31×, liquidation 81.40 (9.56 % away)"."""
    if action.health is None:
        return "nothing left at risk in this margin"
    parts = [f"health {fmt_value(Metric.HEALTH, action.health)}"]
    if action.liq_price is not None and action.distance_pct is not None:
        away = fmt_value(Metric.LIQ_DISTANCE_PCT, action.distance_pct)
        parts.append(f"liquidation {action.liq_price:f} ({away} away)")
    elif action.kind != fixes.CLOSE:
        parts.append("no liquidation price in reach")
    return ", ".join(parts)
