"""Synced StandX data. Exchange ids are unique per account, so every write is an upsert.

Decimal precision: prices and quantities up to 18 integer and 18 fractional digits; ratios
(``mmr``) keep 20 fractional digits. StandX sends decimal strings; nothing here is a float.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import ExchangeAccount
from portfolio.domain.order_rules import SYMBOL_TRADING
from portfolio.domain.performance import KINDS, SOURCES


def money(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=36, decimal_places=18, **kwargs)  # type: ignore[arg-type]


def ratio(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=40, decimal_places=20, **kwargs)  # type: ignore[arg-type]


def venue_field() -> models.CharField:
    """The venue adapter's key (``venues.registry``): market data is per venue and symbol."""
    return models.CharField(max_length=20, default="standx")


class MarketSymbol(models.Model):
    """``query_symbol_info``: ticks and limits for order validation and rounding."""

    venue = venue_field()
    symbol = models.CharField(max_length=30)
    base_asset = models.CharField(max_length=20)
    quote_asset = models.CharField(max_length=20)
    price_tick_decimals = models.PositiveSmallIntegerField()
    qty_tick_decimals = models.PositiveSmallIntegerField()
    quote_decimals = models.PositiveSmallIntegerField(default=9)
    min_order_qty = money()
    max_order_qty = money(null=True, blank=True)  # None: the venue publishes no maximum
    max_leverage = money()
    maker_fee = ratio()
    taker_fee = ratio()
    price_cap_ratio = ratio(null=True, blank=True)  # None: the venue publishes no price band
    price_floor_ratio = ratio(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    # StandX's `status`: "trading" while the symbol takes orders; anything else (halted,
    # delisted) keeps it listed for positions and history but closed to new orders.
    status = models.CharField(max_length=20, default=SYMBOL_TRADING)
    # perp, future, option or spot (venues.base.Kind); futures and options name their
    # underlying and expiry, options their strike and "call"/"put".
    kind = models.CharField(max_length=10, default="perp")
    underlying = models.CharField(max_length=20, blank=True)
    expiry = models.DateTimeField(null=True, blank=True)
    strike = money(null=True, blank=True)
    option_type = models.CharField(max_length=4, blank=True)
    contract_size = money(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["venue", "symbol"], name="marketsymbol_per_venue")
        ]

    def __str__(self) -> str:
        return self.symbol

    @property
    def tradable(self) -> bool:
        return self.enabled and self.status == SYMBOL_TRADING


class MarketPrice(models.Model):
    """The latest mark/index/funding per symbol, from REST polls or the price stream."""

    venue = venue_field()
    symbol = models.CharField(max_length=30)
    mark_price = money(null=True)
    index_price = money(null=True)
    last_price = money(null=True)
    funding_rate = ratio(null=True)
    next_funding_time = models.DateTimeField(null=True)
    # Options: the implied volatility and the per-contract Greeks of the venue's board.
    iv = ratio(null=True, blank=True)
    delta = ratio(null=True, blank=True)
    gamma = ratio(null=True, blank=True)
    vega = ratio(null=True, blank=True)
    theta = ratio(null=True, blank=True)
    source = models.CharField(max_length=10, default="rest")
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["venue", "symbol"], name="marketprice_per_venue")
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.mark_price}"


class FundingRate(models.Model):
    """``query_funding_rates`` history: one row per venue, symbol and funding time."""

    venue = venue_field()
    symbol = models.CharField(max_length=30)
    time = models.DateTimeField()
    funding_rate = ratio()
    mark_price = money(null=True)
    index_price = money(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["venue", "symbol", "time"], name="funding_rate_once")
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.time:%Y-%m-%d %H:%M} {self.funding_rate}"


class Position(models.Model):
    """The current open position of an account in a symbol, or in a symbol and margin mode
    where the venue keys them so (deleted when it closes)."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=30)
    exchange_id = models.CharField(max_length=64, blank=True)  # text: venues' ids differ
    qty = money()  # signed: negative is short
    entry_price = money()
    mark_price = money(null=True)
    position_value = money(null=True)
    upnl = money(null=True)
    realized_pnl = money(null=True)
    leverage = money(null=True)
    margin_mode = models.CharField(max_length=10)
    initial_margin = money(null=True)
    holding_margin = money(null=True)
    maint_margin = money(null=True)
    mmr = ratio(null=True)  # the venue's own margin ratio, where it gives one
    liq_price = money(null=True)
    # Who said liq_price: the venue ("reported") or our risk engine ("computed").
    liq_source = models.CharField(max_length=10, default="reported")
    bankruptcy_price = money(null=True)
    opened_at = models.DateTimeField(null=True)
    synced_at = models.DateTimeField()
    # Tells apart two positions in one symbol where a venue holds more than one (OCX keys them
    # by market and margin mode: "isolated" beside the portfolio one); empty otherwise.
    position_key = models.CharField(max_length=20, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "symbol", "position_key"], name="one_position_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.qty}"

    @property
    def isolated_margin(self) -> Decimal | None:
        """The margin an isolated position holds (the risk engine's name for it)."""
        return self.holding_margin


class PositionSnapshot(models.Model):
    """A position as it was whenever its size, entry or margin changed (for funding and history)."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="+")
    symbol = models.CharField(max_length=30)
    qty = money()
    entry_price = money()
    margin_mode = models.CharField(max_length=10)
    holding_margin = money(null=True)
    liq_price = money(null=True)
    taken_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["account", "symbol", "taken_at"], name="possnap_lookup")]

    def __str__(self) -> str:
        return f"{self.symbol} {self.qty} @ {self.taken_at}"


class BalanceSnapshot(models.Model):
    """The account's money over time, normalized (the equity curve), with the venue's own fields.

    ``cash`` is the balance without unrealized PnL; ``equity`` includes it; ``margin_used`` is
    what positions and orders hold; ``available`` what a new order could use. ``cross_balance``
    and ``cross_upnl`` are the cross-margin scope where the venue has one; ``raw`` keeps every
    field the venue reported, by its own name.
    """

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="+")
    taken_at = models.DateTimeField()
    equity = money()
    cash = money()
    upnl = money()
    margin_used = money()
    available = money(null=True)
    locked = money()
    maint_margin = money(null=True)
    realized_24h = money(null=True)
    cross_balance = money(null=True)
    cross_upnl = money(null=True)
    raw = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["account", "-taken_at"], name="balsnap_latest")]

    def __str__(self) -> str:
        return f"{self.equity} @ {self.taken_at}"


class BalanceBucket(models.Model):
    """One wallet of an account as it stands now (OCX has four; StandX and PerpEx one)."""

    account = models.ForeignKey(
        ExchangeAccount, on_delete=models.CASCADE, related_name="balance_buckets"
    )
    bucket = models.CharField(max_length=20)
    asset = models.CharField(max_length=20)
    available = money()
    locked = money()
    total = money()
    usd_value = money(null=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "bucket", "asset"], name="balancebucket_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.bucket} {self.total} {self.asset}"


class Order(models.Model):
    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="orders")
    exchange_id = models.CharField(max_length=64)
    cl_ord_id = models.CharField(max_length=100, blank=True)
    symbol = models.CharField(max_length=30)
    side = models.CharField(max_length=4)
    order_type = models.CharField(max_length=10)
    status = models.CharField(max_length=12)
    time_in_force = models.CharField(max_length=4, blank=True)
    qty = money()
    price = money(null=True)
    fill_qty = money()
    fill_avg_price = money(null=True)
    reduce_only = models.BooleanField(default=False)
    leverage = money(null=True)
    is_liquidation = models.BooleanField(default=False)  # the venue's liquidation engine sent it
    # When the venue created it (the sync's time when a venue gives none): the pages' keyset.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "exchange_id"], name="order_once")
        ]
        indexes = [
            models.Index(fields=["account", "status"], name="order_status"),
            models.Index(fields=["account", "-created_at", "-id"], name="order_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange_id} {self.side} {self.qty} {self.symbol} {self.status}"


class Trade(models.Model):
    """One fill of the account's orders."""

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="trades")
    exchange_id = models.CharField(max_length=64)
    order_exchange_id = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=30)
    side = models.CharField(max_length=4)
    price = money()
    qty = money()
    value = money(null=True)
    fee_asset = models.CharField(max_length=10, blank=True)
    fee_qty = money()
    pnl = money()
    traded_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "exchange_id"], name="trade_once")
        ]
        indexes = [
            # The trade history page's keyset: (time, id), newest first.
            models.Index(fields=["account", "-traded_at", "-id"], name="trade_page"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange_id} {self.side} {self.qty} {self.symbol} @ {self.price}"


class FundingPayment(models.Model):
    """Funding paid (negative) or received by one position at one funding time.

    StandX has no per-user funding endpoint: rebuilt from the funding-rate history and the
    position size our trade history gives at that instant (payment = -qty x mark x rate).
    """

    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="funding")
    symbol = models.CharField(max_length=30)
    funding_time = models.DateTimeField()
    funding_rate = ratio()
    mark_price = money()
    position_qty = money()
    amount = money()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "symbol", "funding_time"], name="funding_payment_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.funding_time:%Y-%m-%d %H:%M} {self.amount}"


class SyncState(models.Model):
    """Per-account sync bookkeeping: schedule, lease, cursors, health."""

    account = models.OneToOneField(
        ExchangeAccount, on_delete=models.CASCADE, primary_key=True, related_name="sync_state"
    )
    next_due_at = models.DateTimeField(db_index=True)
    interval_s = models.FloatField(default=10)
    lease_until = models.DateTimeField(null=True)
    lease_token = models.CharField(max_length=40, blank=True)
    last_success_at = models.DateTimeField(null=True)
    last_attempt_at = models.DateTimeField(null=True)
    last_error = models.CharField(max_length=300, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    stale = models.BooleanField(default=False)
    # Opaque to us, the venue adapter's: where the last full read of trades and orders stopped.
    trade_cursor = models.CharField(max_length=200, blank=True)
    order_cursor = models.CharField(max_length=200, blank=True)
    last_full_sync_at = models.DateTimeField(null=True)
    # What the last sync saw, so a quiet account's check needs no extra query: no positions and
    # no open orders (idle), and digests of the balance (all fields / activity fields).
    idle = models.BooleanField(default=False)
    balance_digest = models.CharField(max_length=64, blank=True)
    activity_digest = models.CharField(max_length=64, blank=True)
    # Positions' (symbol, size, entry, mode) and the open order ids, as the last sync stored them.
    shape_digest = models.CharField(max_length=64, blank=True)
    last_balance_at = models.DateTimeField(null=True)
    # REST calls the last sync made: the dispatcher's cost estimate for the next one.
    last_requests = models.PositiveSmallIntegerField(default=5)
    backfill_done = models.BooleanField(default=False)
    backfill_trades = models.PositiveIntegerField(default=0)
    backfill_orders = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"sync of {self.account_id}"


class StreamWorker(models.Model):
    """One account-stream worker process (``manage.py accountstreams``) and its load, as its
    last heartbeat reported it (read by /healthz and the admin)."""

    name = models.CharField(max_length=100, unique=True)
    started_at = models.DateTimeField()
    heartbeat_at = models.DateTimeField(db_index=True)
    capacity = models.PositiveIntegerField()  # the most streams it will hold
    accounts = models.PositiveIntegerField(default=0)  # streams held
    connected = models.PositiveIntegerField(default=0)
    lagging = models.PositiveIntegerField(default=0)  # held but not connected, or behind
    events = models.BigIntegerField(default=0)  # applied since it started

    def __str__(self) -> str:
        return self.name


class StreamLease(models.Model):
    """Which stream worker holds an account's stream, until when, and how the stream is doing.

    Claimed with a conditional UPDATE (free or expired), renewed by the holder's heartbeat; a
    dead worker's accounts are free again ``STREAM_LEASE_SECONDS`` later. ``seen_at`` is the
    stream's own heartbeat: renewed while it is connected and answering pings. The dispatcher
    leaves an account to its stream while both are recent.
    """

    account = models.OneToOneField(
        ExchangeAccount, on_delete=models.CASCADE, primary_key=True, related_name="stream_lease"
    )
    holder = models.CharField(max_length=100, blank=True, db_index=True)
    lease_until = models.DateTimeField(null=True, db_index=True)
    connected_at = models.DateTimeField(null=True)
    seen_at = models.DateTimeField(null=True)
    last_event_at = models.DateTimeField(null=True)  # the venue's time of the last change stored
    reconnects = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"stream of {self.account_id}"


def threshold(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=30, decimal_places=10, **kwargs)  # type: ignore[arg-type]


class AlertRule(models.Model):
    """One user's alert rule (see :mod:`portfolio.domain.alert_rules`); defaults are made at
    sign-up."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_rules"
    )
    key = models.SlugField(max_length=40)
    metric = models.CharField(max_length=30)
    direction = models.CharField(max_length=5)
    severity = models.CharField(max_length=10)
    trigger = threshold()
    clear = threshold()
    pending_seconds = models.PositiveIntegerField(default=0)
    repeat_seconds = models.PositiveIntegerField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="alert_rule_once")]
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.key} ({self.user_id})"


class AlertSettings(models.Model):
    """When a user wants to be told: quiet hours in their time zone, snooze, email fallback."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="alert_settings",
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    email_critical = models.BooleanField(default=True)
    # The 5-minute "still critical" reminders by email too (else one email per episode).
    email_repeats = models.BooleanField(default=False)
    # Where critical alerts are emailed, once the user followed the signed link sent there.
    email = models.EmailField(blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"alert settings of {self.user_id}"

    @property
    def verified_email(self) -> str:
        return self.email if self.email and self.email_verified_at else ""


class AlertStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


OPEN_ALERT_STATUSES = (AlertStatus.PENDING, AlertStatus.FIRING)


class Alert(models.Model):
    """One rule's episode for one account (and symbol, or "" for the whole account).

    At most one open (pending or firing) alert per rule x account x symbol; resolved ones are
    the history.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(ExchangeAccount, on_delete=models.CASCADE, related_name="alerts")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    symbol = models.CharField(max_length=30, blank=True)
    status = models.CharField(max_length=10, choices=AlertStatus.choices)
    severity = models.CharField(max_length=10)
    since = models.DateTimeField()
    value = threshold()
    opened_at = models.DateTimeField()
    fired_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    last_notified = models.DateTimeField(null=True, blank=True)
    notifications = models.PositiveIntegerField(default=0)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    title = models.CharField(max_length=200, blank=True)
    body = models.CharField(max_length=500, blank=True)
    # A health alert's suggested action in one sentence ("Reduce SOL-USD by 6 to get back to
    # 2.30×"), as its last notification said it; its link opens the position's current fix.
    fix = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "account", "symbol"],
                condition=models.Q(status__in=["pending", "firing"]),
                name="one_open_alert_per_scope",
            )
        ]
        indexes = [
            models.Index(fields=["user", "status"], name="alert_user_status"),
            models.Index(fields=["user", "-opened_at", "-id"], name="alert_user_recent"),
            models.Index(fields=["account", "status"], name="alert_account_status"),
        ]

    def __str__(self) -> str:
        return f"{self.rule_id} {self.symbol or 'account'} {self.status}"


class AlertEventKind(models.TextChoices):
    FIRED = "fired", "Fired"
    REPEATED = "repeated", "Repeated"
    RESOLVED = "resolved", "Resolved"


class AlertEvent(models.Model):
    """One notification of an alert: what was sent, and whether quiet hours held it back."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=AlertEventKind.choices)
    severity = models.CharField(max_length=10)
    value = threshold()
    at = models.DateTimeField()
    title = models.CharField(max_length=200)
    body = models.CharField(max_length=500)
    delivered = models.BooleanField(default=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["alert", "-at"], name="alertevent_recent")]

    def __str__(self) -> str:
        return f"{self.kind} {self.title}"


class PushSubscription(models.Model):
    """One browser's Web Push subscription (a device): where its alerts are POSTed.

    The endpoint is a capability URL (whoever knows it can push to the device) and ``auth`` is
    the secret the payload is encrypted with: neither is logged, shown or put in a task.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_subscriptions"
    )
    endpoint = models.CharField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=120)
    auth = models.CharField(max_length=60)
    device_label = models.CharField(max_length=80)
    created_at = models.DateTimeField()
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0)  # in a row; a success resets it
    last_error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.device_label

    def __repr__(self) -> str:
        return f"<PushSubscription {self.pk} {self.device_label!r} of user {self.user_id}>"


class DeliveryChannel(models.TextChoices):
    PAGE = "page", "Open tab"
    PUSH = "push", "Push"
    EMAIL = "email", "Email"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    ACCEPTED = "accepted", "Accepted by the push service"
    SHOWN = "shown", "Shown"
    SENT = "sent", "Sent"
    GONE = "gone", "Device gone"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Not sent"


class AlertDelivery(models.Model):
    """Where one alert event went: an open tab, a push per device, an email; and the outcome."""

    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=DeliveryChannel.choices)
    # "page", "email" or "push:<subscription id>": one row per event and target.
    target = models.CharField(max_length=40)
    subscription = models.ForeignKey(
        PushSubscription, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    device_label = models.CharField(max_length=80, blank=True)  # kept when the device goes
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices)
    detail = models.CharField(max_length=200, blank=True)  # in plain words
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "target"], name="alertdelivery_once")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.status}"


class AuditStatus(models.TextChoices):
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent, waiting for the outcome"
    ACCEPTED = "accepted", "Accepted"
    FILLED = "filled", "Filled"
    DONE = "done", "Done"
    REJECTED = "rejected", "Rejected"
    FAILED = "failed", "Failed"


class AuditEntry(models.Model):
    """One signed request to StandX made from the dashboard: who, which account, what was sent
    and what came of it. Never the signature, the token or the signing key."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    account = models.ForeignKey(
        ExchangeAccount, on_delete=models.SET_NULL, null=True, related_name="audit"
    )
    account_label = models.CharField(max_length=80)  # kept when the account is unlinked
    action = models.CharField(max_length=30)  # "new_order", "close_position", "kill_switch", ...
    endpoint = models.CharField(max_length=60)
    body = models.JSONField(default=dict)
    cl_ord_id = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=100, blank=True)
    exchange_order_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=10, choices=AuditStatus.choices)
    result = models.CharField(max_length=300, blank=True)  # in plain words
    created_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A double click or a retry of the same form never sends a second order.
            models.UniqueConstraint(
                fields=["account", "cl_ord_id"],
                condition=~models.Q(cl_ord_id=""),
                name="audit_cl_ord_once",
            )
        ]
        indexes = [models.Index(fields=["user", "-created_at", "-id"], name="audit_user_recent")]
        verbose_name_plural = "audit entries"

    def __str__(self) -> str:
        return f"{self.action} {self.account_label} {self.status}"


class CashFlow(models.Model):
    """Money that moved into or out of the portfolio without being a gain or a loss.

    Deposits and withdrawals are inferred from balance changes that fills, fees and funding do
    not explain (StandX has no ledger endpoint); a linked account's equity arrives as a "link"
    booked from our own record of the link. See ``portfolio.performance``.
    """

    account = models.ForeignKey(
        ExchangeAccount, on_delete=models.CASCADE, related_name="cash_flows"
    )
    time = models.DateTimeField()
    amount = money()  # > 0 into the portfolio
    kind = models.CharField(max_length=12, choices=[(k, k) for k in KINDS])
    source = models.CharField(max_length=10, choices=[(s, s) for s in SOURCES])

    class Meta:
        # The curve reads an account's flows by time; reconciling deletes its inferred ones.
        indexes = [models.Index(fields=["account", "time"], name="cashflow_time")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} @ {self.time} ({self.source})"
