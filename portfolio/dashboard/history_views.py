"""Order and trade history pages and their CSV exports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import ExchangeAccount
from portfolio.dashboard import history
from portfolio.dashboard.forms import HistoryFilterForm
from venues import registry

PAGE_ROWS = 100


@dataclass(frozen=True)
class Accounts:
    labels: dict[int, str]
    tradable: set[int]  # linked for trading: cancel buttons
    venues: dict[int, str]  # where each account trades: the symbol links are per venue


def _filters(request: HttpRequest) -> tuple[HistoryFilterForm, history.HistoryFilter, Accounts]:
    """The form bound to the query string and the filter it gives. An invalid field is shown
    with its error and ignored, so the page still lists something."""
    owned = list(ExchangeAccount.objects.filter(owner_id=request.user.pk).order_by("label"))
    accounts = Accounts(
        {a.pk: a.label for a in owned},
        {a.pk for a in owned if a.can_trade},
        {a.pk: a.venue for a in owned},
    )
    ids = list(accounts.labels)
    form = HistoryFilterForm(
        request.GET or None,
        accounts=list(accounts.labels.items()),
        symbols=history.symbols_of(ids),
    )
    data: dict[str, Any] = {}
    if form.is_bound:
        form.is_valid()
        data = getattr(form, "cleaned_data", {})
    account = data.get("account")
    start, end = data.get("start"), data.get("end")
    f = history.HistoryFilter(
        account_ids=[account] if account in accounts.labels else ids,
        symbol=data.get("symbol") or "",
        side=data.get("side") or "",
        start=datetime.combine(start, time(), tzinfo=UTC) if start else None,
        end=_day_after(end) if end else None,
    )
    return form, f, accounts


def _day_after(day: date) -> datetime | None:
    """Where a filter "to ``day`` inclusive" ends; none after the last day a date can name."""
    if day == date.max:
        return None
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _query_without_cursor(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("after", None)
    return query.urlencode()


def _with_venues(rows: list[Any], accounts: Accounts) -> list[Any]:
    """Each row's venue, for its per-venue symbol link."""
    for row in rows:
        row.account_venue = accounts.venues.get(row.account_id, "")
    return rows


def _listing(
    request: HttpRequest,
    page_of: Callable[..., history.Page[Any]],
    totals_of: Callable[[history.HistoryFilter], Any],
) -> tuple[dict[str, Any], history.HistoryFilter, Accounts, history.Cursor | None]:
    """What the order and trade pages share: filters, one keyset page, totals, the pager."""
    form, f, accounts = _filters(request)
    labels = accounts.labels
    cursor = history.Cursor.decode(request.GET.get("after"))
    page = page_of(f, cursor, labels, PAGE_ROWS) if labels else history.Page([], None)
    _with_venues(page.rows, accounts)
    context = {
        "form": form,
        "has_accounts": bool(labels),
        "page": page,
        "totals": totals_of(f) if labels else None,
        "query": _query_without_cursor(request),
        "first_page": cursor is None,
    }
    return context, f, accounts, cursor


@login_required
def trades(request: HttpRequest) -> HttpResponse:
    context, *_ = _listing(request, history.trade_page, history.trade_totals)
    return render(request, "portfolio/trades.html", context)


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    context, f, accounts, cursor = _listing(request, history.order_page, history.order_totals)
    labels = accounts.labels
    context.update(
        {
            "open_orders": _with_venues(history.open_orders(f, labels), accounts)
            if labels and cursor is None
            else [],
            "open_limit": history.OPEN_ORDERS_SHOWN,
            "tradable": accounts.tradable,
            "tradable_accounts": [(pk, labels[pk]) for pk in sorted(accounts.tradable)],
        }
    )
    return render(request, "portfolio/orders.html", context)


def _csv_accounts(accounts: Accounts) -> history.CsvAccounts:
    names = {key: registry.adapter(key).name for key in set(accounts.venues.values())}
    venues = {pk: names[key] for pk, key in accounts.venues.items()}
    return history.CsvAccounts(accounts.labels, venues)


def _csv_response(name: str, stream: Any) -> StreamingHttpResponse:
    response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="standx-{name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
def trades_csv(request: HttpRequest) -> StreamingHttpResponse:
    _, f, accounts = _filters(request)
    stream = history.csv_stream(
        history.TRADE_COLUMNS,
        history.TRADES,
        history.trades_query(f),
        f.account_ids,
        history.trade_csv_row,
        _csv_accounts(accounts),
    )
    return _csv_response("trades", stream)


@login_required
def orders_csv(request: HttpRequest) -> StreamingHttpResponse:
    _, f, accounts = _filters(request)
    stream = history.csv_stream(
        history.ORDER_COLUMNS,
        history.ORDERS,
        history.orders_query(f),
        f.account_ids,
        history.order_csv_row,
        _csv_accounts(accounts),
    )
    return _csv_response("orders", stream)
