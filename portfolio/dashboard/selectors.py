"""Read-side queries for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, Sum
from django.utils import timezone

from portfolio.alerts import fixes as fix_of
from portfolio.alerts.evaluation import (
    ALL_METRICS,
    AccountView,
    MarketKey,
    account_risk_of,
    alert_payload,
    load_views,
    market_keys,
    risk_inputs_of,
    scope_health,
)
from portfolio.dashboard import history
from portfolio.domain import alert_text, risk
from portfolio.domain.alert_rules import Metric
from portfolio.domain.exposure import (
    AssetExposure,
    Concentration,
    Leg,
    asset_of,
    concentration,
    exposures,
)
from portfolio.domain.fixes import Fix
from portfolio.domain.volatility import LiquidationOdds, liquidation_odds
from portfolio.health import health_report
from portfolio.models import (
    Alert,
    AlertDelivery,
    AlertEvent,
    AlertRule,
    AlertSettings,
    AlertStatus,
    FundingPayment,
    FundingRate,
    MarketPrice,
    MarketSymbol,
    Position,
    Trade,
)
from portfolio.streams.freshness import account_freshness
from venues import registry

CENTRE_RECENT = 20


def firing_count(user_id: int) -> int:
    return Alert.objects.filter(user_id=user_id, status=AlertStatus.FIRING).count()


def alert_centre_for_user(user_id: int) -> dict[str, Any]:
    """The alert centre: firing alerts (newest first), recent notifications, snooze."""
    firing = (
        Alert.objects.filter(user_id=user_id, status=AlertStatus.FIRING)
        .select_related("account")
        .order_by("-fired_at", "-id")
    )
    recent = (
        AlertEvent.objects.filter(alert__user_id=user_id)
        .select_related("alert")
        .order_by("-at", "-id")[:CENTRE_RECENT]
    )
    settings = AlertSettings.objects.filter(user_id=user_id).first()
    snoozed = settings.snoozed_until if settings else None
    return {
        "firing": [alert_payload(a, a.account.label) for a in firing],
        "recent": [
            {
                "id": e.pk,
                "alert_id": e.alert_id,
                "kind": e.kind,
                "severity": e.severity,
                "title": e.title,
                "body": e.body,
                "at": e.at.isoformat(),
            }
            for e in recent
        ],
        "snoozed_until": snoozed.isoformat() if snoozed and snoozed > timezone.now() else None,
    }


def live_state_for_user(user: Any) -> dict[str, Any]:
    """What a freshly (re)connected browser needs: who it is, how the system is, its alerts."""
    health = health_report()
    return {
        "username": user.get_username(),
        "server_time": timezone.now().isoformat(),
        "system": {name: health[name] for name in ("database", "redis", "worker", "pricestream")},
        "alerts": alert_centre_for_user(user.pk),
    }


@dataclass(frozen=True)
class AlertPage:
    rows: list[Alert]
    next_before: int | None  # the keyset cursor of the next (older) page


def alert_history(
    user_id: int, *, status: str | None = None, before_id: int | None = None, limit: int = 50
) -> AlertPage:
    """The user's alerts newest first, with their notifications; keyset-paginated by id."""
    query = Alert.objects.filter(user_id=user_id).exclude(status=AlertStatus.PENDING)
    if status:
        query = query.filter(status=status)
    if before_id is not None:
        query = query.filter(pk__lt=before_id)
    rows = list(
        query.select_related("account", "rule")
        .prefetch_related(
            Prefetch("events", AlertEvent.objects.order_by("at", "id")),
            Prefetch("events__deliveries", AlertDelivery.objects.order_by("channel", "id")),
        )
        .order_by("-id")[: limit + 1]
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return AlertPage(rows, rows[-1].pk if more and rows else None)


@dataclass(frozen=True)
class PositionRow:
    anchor: str  # "pos-<account id>-<symbol>": where an alert's link lands
    venue: str
    account_id: int
    account: str
    symbol: str
    side: str
    size: Decimal
    entry: Decimal
    mark: Decimal | None
    notional: Decimal
    upnl: Decimal
    roe_pct: Decimal | None
    leverage: Decimal | None
    margin_mode: str
    liq_price: Decimal | None
    exchange_liq_price: Decimal | None
    liq_source: str  # "computed" (ours) or "reported" (the venue's)
    estimated: bool  # distance and health follow the mark between the venue's reports
    venue_name: str
    distance_pct: Decimal | None
    health: Decimal | None
    level: str  # "", "warn" or "bad" by the user's own health rules
    funding: Decimal  # since the position opened: received positive, paid negative
    can_trade: bool = False  # the account is linked for trading: show the close buttons
    expires_at: datetime | None = None  # a dated future's expiry
    fix: Fix | None = None  # in warning or critical: what brings it back to the clear level
    fix_sentence: str = ""  # "Reduce SOL-USD by 6 to get back to 2.30×."
    fix_result: str = ""  # "health 2.31×, liquidation 81.40 (9.56 % away)"
    odds: LiquidationOdds | None = None  # the distance in the mark's hourly sigmas


def _display_price(price: Decimal | None, tick: Decimal | None, like: Decimal) -> Decimal | None:
    # Without the symbol's tick (market data not synced yet), show as many places as the entry.
    if price is None or tick is not None:
        return price
    exponent = like.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return price.quantize(Decimal(1).scaleb(-places))


@dataclass(frozen=True)
class RiskContext:
    """One load of a user's accounts, shared by the overview's summary and positions."""

    views: list[AccountView]
    ticks: dict[MarketKey, Decimal]
    levels: dict[str, Decimal]  # the user's enabled health rule triggers, by rule key
    now: datetime
    expiries: dict[MarketKey, datetime] = field(default_factory=dict)  # dated futures'
    fix_levels: fix_of.Levels | None = None  # below which a position gets a fix, and to where
    markets: dict[MarketKey, MarketSymbol] = field(default_factory=dict)  # of the held symbols

    @property
    def account_ids(self) -> list[int]:
        return [v.account.pk for v in self.views]


def risk_context(user_id: int) -> RiskContext:
    now = timezone.now()
    metrics = ALL_METRICS - {Metric.DRAWDOWN_PCT, Metric.LIQUIDATED}
    views = sorted(load_views(None, metrics, now, owner_id=user_id), key=lambda v: v.account.pk)
    health = list(
        AlertRule.objects.filter(user_id=user_id, metric=Metric.HEALTH, enabled=True).values_list(
            "key", "trigger", "clear"
        )
    )
    levels = {k: t for k, t, _ in health if k in ("health-warning", "health-critical")}
    fix_levels = fix_of.levels_of((t, c) for _, t, c in health)
    keys = market_keys(views)
    markets = {
        (m.venue, m.symbol): m
        for m in MarketSymbol.objects.filter(
            venue__in={v for v, _ in keys}, symbol__in={s for _, s in keys}
        )
        if (m.venue, m.symbol) in keys
    }
    ticks = {k: Decimal(1).scaleb(-m.price_tick_decimals) for k, m in markets.items()}
    expiries = {k: m.expiry for k, m in markets.items() if m.expiry is not None}
    return RiskContext(views, ticks, levels, now, expiries, fix_levels, markets)


def health_level(health: Decimal | None, levels: dict[str, Decimal]) -> str:
    """ "bad" below the user's critical health level, "warn" below the warning one, else ""."""
    if health is None:
        return ""
    if "health-critical" in levels and health < levels["health-critical"]:
        return "bad"
    if "health-warning" in levels and health < levels["health-warning"]:
        return "warn"
    return ""


# Funding of each open position since it opened (FundingPayment is rebuilt per funding time).
FUNDING_SQL = f"""
SELECT p.account_id, p.symbol, COALESCE(SUM(f.amount), 0)
FROM "{Position._meta.db_table}" p
JOIN "{FundingPayment._meta.db_table}" f
  ON f.account_id = p.account_id AND f.symbol = p.symbol
 AND (p.opened_at IS NULL OR f.funding_time >= p.opened_at)
WHERE p.account_id = ANY(%s)
GROUP BY p.account_id, p.symbol
"""  # noqa: S608 - table names from model metadata


def funding_of_positions(account_ids: list[int]) -> dict[tuple[int, str], Decimal]:
    if not account_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(FUNDING_SQL, [account_ids])
        return {(a, s): amount for a, s, amount in cursor.fetchall()}


def position_anchor(account_id: int, symbol: str, position_key: str) -> str:
    """The row's id on the page: "pos-<account id>-<symbol>", with the position key where a
    venue holds two positions in one symbol (OCX's isolated one)."""
    return f"pos-{account_id}-{symbol}" + (f"-{position_key}" if position_key else "")


VOLATILITY_WINDOW = timedelta(days=7)  # the funding history the market sync keeps


def mark_history(
    keys: set[MarketKey], since: datetime
) -> dict[MarketKey, list[tuple[datetime, Decimal]]]:
    """The stored marks of these markets since ``since``, oldest first: the mark at every
    funding time (the history the market sync keeps for held symbols)."""
    if not keys:
        return {}
    rows = (
        FundingRate.objects.filter(
            venue__in={v for v, _ in keys},
            symbol__in={s for _, s in keys},
            time__gte=since,
            mark_price__isnull=False,
        )
        .order_by("time")
        .values_list("venue", "symbol", "time", "mark_price")
    )
    found: dict[MarketKey, list[tuple[datetime, Decimal]]] = {}
    for venue, symbol, time, mark in rows:
        if (venue, symbol) in keys:
            found.setdefault((venue, symbol), []).append((time, mark))
    return found


def positions_for_user(
    ctx: RiskContext, *, with_funding: bool = False, with_odds: bool = False
) -> list[PositionRow]:
    """Every open position of the user's accounts with its risk, worst health first; with its
    funding since it opened and its distance in hourly sigmas where asked."""
    rows: list[PositionRow] = []
    funding = funding_of_positions(ctx.account_ids) if with_funding else {}
    history = mark_history(market_keys(ctx.views), ctx.now - VOLATILITY_WINDOW) if with_odds else {}
    lots = {k: fix_of.lot_of(m) for k, m in ctx.markets.items()}
    for view in ctx.views:
        account_in, positions_in = risk_inputs_of(view, ctx.ticks)
        ar = risk.account_risk(account_in, positions_in)
        fixes = {}
        worst = ar.worst_health
        troubled = ctx.fix_levels and worst is not None and worst < ctx.fix_levels.warning
        if troubled and view.balance is not None:  # a cross health needs the balance
            venue = view.account.venue
            fixes = fix_of.account_fixes(venue, account_in, positions_in, lots, ctx.fix_levels)
        for p, pr in zip(view.positions, ar.positions, strict=True):
            health = scope_health(p, pr, ar, has_balance=view.balance is not None)
            fix = fixes.get(p.symbol)
            first = fix.actions[0] if fix and fix.actions else None
            marks = history.get((view.account.venue, p.symbol))
            odds = (
                liquidation_odds(marks, p.mark_price, pr.liq_price)
                if marks and p.mark_price
                else None
            )
            rows.append(
                PositionRow(
                    anchor=position_anchor(view.account.pk, p.symbol, p.position_key),
                    venue=view.account.venue,
                    account_id=view.account.pk,
                    account=view.account.label,
                    symbol=p.symbol,
                    side=pr.side,
                    size=abs(p.qty),
                    entry=p.entry_price,
                    mark=p.mark_price,
                    notional=pr.notional,
                    upnl=pr.upnl,
                    roe_pct=pr.roe * 100 if pr.roe is not None else None,
                    leverage=p.leverage,
                    margin_mode=p.margin_mode,
                    liq_price=_display_price(
                        pr.liq_price, ctx.ticks.get((view.account.venue, p.symbol)), p.entry_price
                    ),
                    exchange_liq_price=p.liq_price,
                    liq_source=pr.liq_source,
                    estimated=pr.estimated,
                    venue_name=registry.adapter(view.account.venue).name,
                    distance_pct=pr.distance_pct,
                    health=health,
                    level=health_level(health, ctx.levels),
                    funding=funding.get((view.account.pk, p.symbol), Decimal(0)),
                    can_trade=view.account.can_trade,
                    expires_at=ctx.expiries.get((view.account.venue, p.symbol)),
                    fix=fix,
                    fix_sentence=alert_text.fix_sentence(first, fix.target)
                    if fix and first
                    else "",
                    fix_result=alert_text.fix_outcome(first) if first else "",
                    odds=odds,
                )
            )
    rows.sort(key=lambda r: (r.health is None, r.health or 0))
    return rows


@dataclass(frozen=True)
class AccountSummary:
    anchor: str
    label: str
    venue: str
    has_data: bool
    equity: Decimal
    balance: Decimal
    upnl: Decimal
    realized_24h: Decimal
    margin_used: Decimal
    available: Decimal | None
    health: Decimal | None  # the worst scope's health multiple
    level: str  # "", "warn", "bad" by the user's health rules
    age_s: int | None  # seconds since the data was last confirmed (REST or a live stream)
    synced_at: datetime | None
    stale: bool
    source: str  # "stream", "reconciling" or "polled" (portfolio.streams.freshness)


@dataclass(frozen=True)
class PortfolioSummary:
    accounts: list[AccountSummary]
    equity: Decimal
    balance: Decimal
    upnl: Decimal
    realized_24h: Decimal
    margin_used: Decimal
    available: Decimal


STALE_AFTER_S = 120  # the default "data stale" rule's trigger


def portfolio_summary(ctx: RiskContext) -> PortfolioSummary:
    """Per linked account and in total: equity at the live mark, balance, uPnL, 24 h realized
    PnL, margin used and available, worst health and data age."""
    now = ctx.now
    zero = Decimal(0)
    rows: list[AccountSummary] = []
    for view in sorted(ctx.views, key=lambda v: v.account.label.lower()):
        b = view.balance
        ar = account_risk_of(view, ctx.ticks)
        upnl = sum((p.upnl for p in ar.positions), zero)
        health = ar.worst_health if b is not None or not ar.positions else None
        state = getattr(view.account, "sync_state", None)
        fresh = account_freshness(view.account, now)
        last = fresh.at
        age = fresh.age_s(now)
        rows.append(
            AccountSummary(
                anchor=f"account-{view.account.pk}",
                label=view.account.label,
                venue=view.account.venue,
                has_data=b is not None,
                equity=(b.cash + upnl) if b else zero,
                balance=b.cash if b else zero,
                upnl=upnl,
                realized_24h=(b.realized_24h or zero) if b else zero,
                margin_used=b.margin_used if b else zero,
                available=b.available if b else None,
                health=health,
                level=health_level(health, ctx.levels),
                age_s=age,
                synced_at=last,
                stale=age is None or age > STALE_AFTER_S or bool(state and state.stale),
                source=fresh.source,
            )
        )
    return PortfolioSummary(
        accounts=rows,
        equity=sum((r.equity for r in rows), zero),
        balance=sum((r.balance for r in rows), zero),
        upnl=sum((r.upnl for r in rows), zero),
        realized_24h=sum((r.realized_24h for r in rows), zero),
        margin_used=sum((r.margin_used for r in rows), zero),
        available=sum((r.available or zero for r in rows), zero),
    )


# -- stress -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StressPosition:
    anchor: str
    account: str
    symbol: str
    mark: Decimal
    health: Decimal | None
    level: str
    liquidated: bool


@dataclass(frozen=True)
class StressAccount:
    label: str
    equity_before: Decimal
    equity_after: Decimal
    health_before: Decimal | None
    health_after: Decimal | None
    level: str
    liquidated: tuple[str, ...]


@dataclass(frozen=True)
class StressView:
    symbol: str  # "" for all symbols
    pct: Decimal
    accounts: list[StressAccount]
    positions: list[StressPosition]
    equity_before: Decimal
    equity_after: Decimal

    @property
    def liquidated(self) -> list[StressPosition]:
        return [p for p in self.positions if p.liquidated]


def stress_for_user(ctx: RiskContext, symbol: str, pct: Decimal) -> StressView:
    """The user's accounts if ``symbol``'s mark (every mark when ``symbol`` is "") moved by
    ``pct`` percent: equity, health, and which positions would be liquidated."""
    zero = Decimal(0)
    accounts: list[StressAccount] = []
    positions: list[StressPosition] = []
    for view in sorted(ctx.views, key=lambda v: v.account.label.lower()):
        if not view.positions:
            continue
        account_in, positions_in = risk_inputs_of(view, ctx.ticks)
        before = risk.account_risk(account_in, positions_in)
        moves = {symbol: pct} if symbol else {}
        result = risk.stress(account_in, positions_in, moves, all_symbols=None if symbol else pct)
        after = result.risk
        has_balance = view.balance is not None
        for p, pr in zip(view.positions, after.positions, strict=True):
            health = scope_health(p, pr, after, has_balance=has_balance)
            mark = (p.mark_price or p.entry_price) * (1 + result.moves[p.symbol] / 100)
            tick = ctx.ticks.get((view.account.venue, p.symbol))
            positions.append(
                StressPosition(
                    anchor=position_anchor(view.account.pk, p.symbol, p.position_key),
                    account=view.account.label,
                    symbol=p.symbol,
                    mark=mark.quantize(tick) if tick else mark,
                    health=health,
                    level=health_level(health, ctx.levels),
                    liquidated=p.symbol in result.liquidated,
                )
            )
        health_after = after.worst_health if has_balance or not view.positions else None
        accounts.append(
            StressAccount(
                label=view.account.label,
                equity_before=before.equity,
                equity_after=after.equity,
                health_before=before.worst_health if has_balance else None,
                health_after=health_after,
                level=health_level(health_after, ctx.levels),
                liquidated=result.liquidated,
            )
        )
    return StressView(
        symbol=symbol,
        pct=pct,
        accounts=accounts,
        positions=positions,
        equity_before=sum((a.equity_before for a in accounts), zero),
        equity_after=sum((a.equity_after for a in accounts), zero),
    )


# -- symbol page --------------------------------------------------------------------------------

FUNDING_HISTORY_DAYS = 7
MARKERS_SHOWN = 500


@dataclass(frozen=True)
class SymbolPage:
    info: MarketSymbol | None
    price: MarketPrice | None
    funding: list[FundingRate]  # newest first
    markers: list[dict[str, Any]]  # the user's fills: chart markers, oldest first
    positions: list[PositionRow]

    @property
    def known(self) -> bool:
        """Listed by the exchange, held or traded by the user: worth a page."""
        return bool(self.info or self.positions or self.markers)


def symbol_page(ctx: RiskContext, venue: str, symbol: str) -> SymbolPage:
    """One market on one venue: its data, the user's fills there and positions in it."""
    now = ctx.now
    on_venue = [v.account.pk for v in ctx.views if v.account.venue == venue]
    funding = list(
        FundingRate.objects.filter(
            venue=venue, symbol=symbol, time__gte=now - timedelta(days=FUNDING_HISTORY_DAYS)
        ).order_by("-time")
    )
    fills = history.newest(
        history.TRADES,
        Trade.objects.filter(account_id__in=on_venue, symbol=symbol).only(
            "account_id", "traded_at", "side", "qty", "price"
        ),
        on_venue,
        None,
        MARKERS_SHOWN,
    )
    markers = [
        {
            "time": int(t.traded_at.timestamp()),
            "side": t.side,
            "text": f"{t.side.title()} {t.qty.normalize():f} @ {t.price.normalize():f}",
        }
        for t in reversed(fills)
    ]
    return SymbolPage(
        info=MarketSymbol.objects.filter(venue=venue, symbol=symbol).first(),
        price=MarketPrice.objects.filter(venue=venue, symbol=symbol).first(),
        funding=funding,
        markers=markers,
        positions=[p for p in positions_for_user(ctx) if p.venue == venue and p.symbol == symbol],
    )


# -- cross-venue exposure -----------------------------------------------------------------------

EXPOSURE_FUNDING_DAYS = 30


@dataclass(frozen=True)
class VenueFunding:
    venue: str
    paid: Decimal  # negative or zero
    received: Decimal

    @property
    def net(self) -> Decimal:
        return self.paid + self.received


@dataclass(frozen=True)
class ExposurePage:
    assets: list[AssetExposure]
    funding: list[VenueFunding]  # the last EXPOSURE_FUNDING_DAYS days, per venue


def exposure_for_user(ctx: RiskContext) -> ExposurePage:
    """Every open position as a leg of its asset across venues and accounts, and the funding
    each venue paid or charged lately."""
    keys = market_keys(ctx.views)
    deltas = {
        (m.venue, m.symbol): m.delta
        for m in MarketPrice.objects.filter(
            venue__in={v for v, _ in keys}, symbol__in={s for _, s in keys}
        ).only("venue", "symbol", "delta")
    }
    since = ctx.now - timedelta(days=EXPOSURE_FUNDING_DAYS)
    rows = (
        FundingPayment.objects.filter(account_id__in=ctx.account_ids, funding_time__gte=since)
        .values("account__venue")
        .annotate(
            paid=Sum("amount", filter=Q(amount__lt=0), default=Decimal(0)),
            received=Sum("amount", filter=Q(amount__gt=0), default=Decimal(0)),
        )
        .order_by("account__venue")
    )
    funding = [VenueFunding(r["account__venue"], r["paid"], r["received"]) for r in rows]
    return ExposurePage(exposures(legs_of(ctx, deltas)), funding)


def legs_of(ctx: RiskContext, deltas: dict[MarketKey, Decimal | None]) -> list[Leg]:
    """Every open position as a leg of its asset (an option without a delta in ``deltas``
    counts none)."""
    info = ctx.markets
    legs: list[Leg] = []
    for view in ctx.views:
        ar = account_risk_of(view, ctx.ticks)
        venue = view.account.venue
        for p, pr in zip(view.positions, ar.positions, strict=True):
            m = info.get((venue, p.symbol))
            option = m is not None and m.kind == "option"
            known = p.margin_mode == "isolated" or view.balance is not None
            legs.append(
                Leg(
                    asset=asset_of(p.symbol, m.underlying if m else "", m.base_asset if m else ""),
                    venue=venue,
                    account=view.account.label,
                    symbol=p.symbol,
                    qty=p.qty,
                    contract_size=m.contract_size if m else Decimal(1),
                    mark=p.mark_price or p.entry_price,
                    distance_pct=pr.distance_pct if known else None,
                    delta=deltas.get((venue, p.symbol)) if option else Decimal(1),
                )
            )
    return legs


def concentration_for_user(ctx: RiskContext, equity: Decimal) -> Concentration | None:
    """The book's concentration index and heat per asset and venue (no query of its own)."""
    return concentration(legs_of(ctx, {}), equity)
