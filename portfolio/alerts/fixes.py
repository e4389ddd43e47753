"""The fix of a position in warning or critical, from stored data: what the positions page, the
alert centre, the alert email and the push say to do (computed by :mod:`portfolio.domain.fixes`).

The user's own health rules set the levels: a position is in trouble below the highest trigger
of their enabled health rules, and the fix brings it back to the highest clear level, so every
health alert it fired resolves. The venue's capabilities decide which actions are offered.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse

from portfolio.domain import fixes, risk
from portfolio.domain.alert_rules import Metric, Rule
from portfolio.models import MarketSymbol
from venues import registry

MarketKey = tuple[str, str]  # (venue, symbol)


@dataclass(frozen=True)
class Levels:
    warning: Decimal  # below this a position is in trouble
    target: Decimal  # the clear level a fix reaches


def levels_of(rules: Iterable[tuple[Decimal, Decimal]]) -> Levels | None:
    """From the (trigger, clear) of the user's enabled health rules (None: they watch no
    health, so nothing is fixed)."""
    pairs = list(rules)
    if not pairs:
        return None
    return Levels(max(t for t, _ in pairs), max(c for _, c in pairs))


def health_rules(rules: Iterable[Rule]) -> list[tuple[Decimal, Decimal]]:
    return [(r.trigger, r.clear) for r in rules if r.metric == Metric.HEALTH and r.enabled]


def lots_for(keys: Iterable[MarketKey]) -> dict[MarketKey, fixes.Lot]:
    wanted = set(keys)
    if not wanted:
        return {}
    rows = MarketSymbol.objects.filter(
        venue__in={v for v, _ in wanted}, symbol__in={s for _, s in wanted}
    ).only("venue", "symbol", "qty_tick_decimals", "min_order_qty", "taker_fee")
    return {(s.venue, s.symbol): lot_of(s) for s in rows if (s.venue, s.symbol) in wanted}


def lot_of(market: MarketSymbol) -> fixes.Lot:
    """How the market's orders are sized: its quantity tick, minimum order and taker fee."""
    return fixes.Lot(
        step=Decimal(1).scaleb(-market.qty_tick_decimals),
        min_qty=market.min_order_qty,
        taker_fee=market.taker_fee,
    )


def account_fixes(
    venue: str,
    account: risk.AccountInput,
    positions: list[risk.PositionInput],
    lots: dict[MarketKey, fixes.Lot],
    levels: Levels | None,
) -> dict[str, fixes.Fix]:
    """The fixes of one account's positions in trouble, by symbol."""
    if levels is None or not positions:
        return {}
    caps = registry.adapter(venue).capabilities
    return fixes.fixes(
        account,
        positions,
        warning=levels.warning,
        target=levels.target,
        lots={s: lot for (v, s), lot in lots.items() if v == venue},
        offers=fixes.Offers(
            add_isolated_margin=caps.add_isolated_margin, bucket_transfer=caps.bucket_transfer
        ),
    )


def fix_url(account_id: int, symbol: str) -> str:
    """Opens the position's current fix: the pre-filled order or margin form, never a send."""
    return reverse("portfolio:position_fix", args=[account_id, symbol])


def order_form_url(account_id: int, action: fixes.Action) -> str:
    """The order form filled in with a fix's reduce-only market order, previewed."""
    query = {
        "account": account_id,
        "symbol": action.symbol,
        "side": action.side,
        "order_type": "market",
        "time_in_force": "ioc",
        "qty": f"{action.amount.normalize():f}",
        "reduce_only": "on",
        "preview": "1",
    }
    return f"{reverse('portfolio:order_new')}?{urlencode(query)}"
