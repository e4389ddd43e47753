"""Synced data in admin: read-only (the exchange is the source), scoped to the owner for staff."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from portfolio.models import (
    AlertDelivery,
    AuditEntry,
    BalanceSnapshot,
    FundingRate,
    MarketPrice,
    MarketSymbol,
    Order,
    Position,
    PushSubscription,
    StreamLease,
    StreamWorker,
    SyncState,
    Trade,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OwnedAdmin(ReadOnlyAdmin):
    """Rows of linked accounts: staff who are not superusers see only their own."""

    list_select_related = ("account",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(account__owner=request.user)


@admin.register(SyncState)
class SyncStateAdmin(OwnedAdmin):
    list_display = (
        "account",
        "last_success_at",
        "stale",
        "consecutive_failures",
        "interval_s",
        "next_due_at",
        "backfill_done",
        "backfill_trades",
        "backfill_orders",
        "last_error",
    )
    list_filter = ("stale", "backfill_done")


@admin.register(StreamWorker)
class StreamWorkerAdmin(ReadOnlyAdmin):
    """Account-stream workers by their last heartbeat (a stopped worker's row is pruned)."""

    list_display = (
        "name",
        "heartbeat_at",
        "accounts",
        "connected",
        "lagging",
        "capacity",
        "events",
        "started_at",
    )
    ordering = ("name",)


@admin.register(StreamLease)
class StreamLeaseAdmin(OwnedAdmin):
    """Which worker streams each account, and whether the stream is live."""

    list_display = (
        "account",
        "holder",
        "lease_until",
        "connected_at",
        "seen_at",
        "last_event_at",
        "reconnects",
    )
    list_filter = ("holder",)


@admin.register(Position)
class PositionAdmin(OwnedAdmin):
    list_display = (
        "account",
        "symbol",
        "qty",
        "entry_price",
        "mark_price",
        "upnl",
        "liq_price",
        "mmr",
        "margin_mode",
        "synced_at",
    )
    list_filter = ("symbol", "margin_mode")


@admin.register(Order)
class OrderAdmin(OwnedAdmin):
    list_display = (
        "exchange_id",
        "account",
        "symbol",
        "side",
        "order_type",
        "qty",
        "price",
        "status",
        "created_at",
    )
    list_filter = ("status", "symbol", "side")
    search_fields = ("=exchange_id", "cl_ord_id")


@admin.register(Trade)
class TradeAdmin(OwnedAdmin):
    list_display = (
        "exchange_id",
        "account",
        "symbol",
        "side",
        "qty",
        "price",
        "fee_qty",
        "pnl",
        "traded_at",
    )
    list_filter = ("symbol", "side")
    search_fields = ("=exchange_id", "=order_exchange_id")


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(OwnedAdmin):
    list_display = ("account", "taken_at", "equity", "cash", "upnl", "available")


@admin.register(MarketPrice)
class MarketPriceAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "mark_price", "index_price", "funding_rate", "source", "updated_at")


@admin.register(MarketSymbol)
class MarketSymbolAdmin(ReadOnlyAdmin):
    list_display = (
        "symbol",
        "price_tick_decimals",
        "qty_tick_decimals",
        "min_order_qty",
        "max_leverage",
        "maker_fee",
        "taker_fee",
    )


@admin.register(FundingRate)
class FundingRateAdmin(ReadOnlyAdmin):
    list_display = ("symbol", "time", "funding_rate", "mark_price")
    list_filter = ("symbol",)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    """Every signed request made from the dashboard (bodies hold no secrets)."""

    list_display = (
        "created_at",
        "user",
        "account_label",
        "action",
        "status",
        "cl_ord_id",
        "exchange_order_id",
        "result",
    )
    list_filter = ("status", "action")
    search_fields = ("cl_ord_id", "request_id", "account_label", "user__username")
    date_hierarchy = "created_at"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # the log is the record: never edited, never deleted

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)


@admin.register(PushSubscription)
class PushSubscriptionAdmin(ReadOnlyAdmin):
    """Devices that get push alerts. The endpoint (a capability URL) and the keys are not
    shown; deleting a row stops the device's pushes."""

    list_display = (
        "device_label",
        "user",
        "created_at",
        "last_success_at",
        "failures",
        "last_error",
    )
    fields = list_display
    search_fields = ("user__username", "device_label")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request).select_related("user")
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    """Where each alert event went, and what the push service or mail server said."""

    list_display = (
        "created_at",
        "event",
        "channel",
        "device_label",
        "status",
        "attempts",
        "detail",
    )
    list_filter = ("channel", "status")
    exclude = ("subscription",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        queryset = super().get_queryset(request).select_related("event")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(event__alert__user=request.user)
