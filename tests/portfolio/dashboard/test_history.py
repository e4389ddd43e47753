"""Trade and order history: keyset pages, filters, totals and the streamed CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest
from asgiref.sync import async_to_sync

from accounts.models import ExchangeAccount, User
from portfolio.dashboard import history
from portfolio.models import FundingPayment, Order, Trade
from tests.portfolio.alerts.test_evaluation import make_account

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def trades(account: ExchangeAccount, n: int, *, symbol: str = "SOL-USD", start_id: int = 1) -> None:
    """``n`` fills one minute apart; every third at the same second as the previous (ties)."""
    rows = []
    for i in range(n):
        at = T0 + timedelta(minutes=i - (1 if i % 3 == 2 else 0))
        rows.append(
            Trade(
                account=account,
                exchange_id=start_id + i,
                order_exchange_id=start_id + i,
                symbol=symbol,
                side="buy" if i % 2 == 0 else "sell",
                price=D("100.5"),
                qty=D("2"),
                value=D("201"),
                fee_qty=D("0.1"),
                fee_asset="DUSD",
                pnl=D("1.25") if i % 2 else D(0),
                traded_at=at,
            )
        )
    Trade.objects.bulk_create(rows)


def every_page(f: history.HistoryFilter, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page = history.trade_page(f, cursor, {}, limit)
        seen += [t.exchange_id for t in page.rows]
        if page.next_cursor is None:
            return seen
        cursor = history.Cursor.decode(page.next_cursor)


@pytest.fixture
def account(alice: User) -> ExchangeAccount:
    return make_account(alice)


def test_keyset_pages_visit_every_trade_once_newest_first_even_with_equal_times(
    account: ExchangeAccount,
) -> None:
    trades(account, 47)
    seen = every_page(history.HistoryFilter([account.pk]), limit=10)
    assert sorted(map(int, seen)) == list(range(1, 48))
    times = {t.exchange_id: t.traded_at for t in Trade.objects.all()}
    assert [times[i] for i in seen] == sorted((times[i] for i in seen), reverse=True)


def test_pages_across_several_accounts_merge_them_in_time_order(alice: User) -> None:
    main = make_account(alice)
    hedge = make_account(alice, label="Hedge", address="0xb")
    trades(main, 23)
    trades(hedge, 31, start_id=1000)
    seen = every_page(history.HistoryFilter([main.pk, hedge.pk]), limit=8)
    assert len(seen) == len(set(seen)) == 54
    keys = {t.exchange_id: (t.traded_at, t.pk) for t in Trade.objects.all()}
    assert [keys[i] for i in seen] == sorted((keys[i] for i in seen), reverse=True)
    labelled = history.trade_page(
        history.HistoryFilter([main.pk, hedge.pk]), None, {main.pk: "Main", hedge.pk: "Hedge"}
    )
    assert {getattr(t, "account_label", None) for t in labelled.rows} == {"Main", "Hedge"}


def test_filters_narrow_by_symbol_side_and_date(account: ExchangeAccount) -> None:
    trades(account, 10)
    trades(account, 4, symbol="BTC-USD", start_id=100)
    f = history.HistoryFilter(
        [account.pk],
        symbol="SOL-USD",
        side="buy",
        start=T0 + timedelta(minutes=2),
        end=T0 + timedelta(minutes=8),
    )
    rows = history.trade_page(f, None, {}, 100).rows
    assert rows
    assert all(t.symbol == "SOL-USD" and t.side == "buy" for t in rows)
    assert all(f.start <= t.traded_at < f.end for t in rows)  # type: ignore[operator]


def test_totals_cover_every_matching_trade_and_funding(account: ExchangeAccount) -> None:
    trades(account, 10)
    FundingPayment.objects.create(
        account=account,
        symbol="SOL-USD",
        funding_time=T0,
        funding_rate=D("0.0001"),
        mark_price=D(100),
        position_qty=D(2),
        amount=D("-0.02"),
    )
    totals = history.trade_totals(history.HistoryFilter([account.pk]))
    assert totals.count == 10
    assert totals.volume == D("2010")  # 10 x 2 x 100.5
    assert totals.fees == D("1")
    assert totals.realized_pnl == D("6.25")
    assert totals.funding == D("-0.02")
    assert totals.net == D("5.23")


def test_the_trade_csv_streams_every_row_in_chunks_with_exact_decimals(
    account: ExchangeAccount,
) -> None:
    trades(account, 25)

    async def collect() -> list[str]:
        f = history.HistoryFilter([account.pk])
        named = history.CsvAccounts({account.pk: "Main"}, {account.pk: "StandX"})
        stream = history.csv_stream(
            history.TRADE_COLUMNS,
            history.TRADES,
            history.trades_query(f),
            [account.pk],
            history.trade_csv_row,
            named,
            size=7,
        )
        return [chunk async for chunk in stream]

    chunks = async_to_sync(collect)()
    assert len(chunks) == 1 + 4  # the header, then 7 + 7 + 7 + 4 rows
    rows = list(csv.DictReader(io.StringIO("".join(chunks))))
    assert len(rows) == 25
    assert {r["trade_id"] for r in rows} == {str(i) for i in range(1, 26)}
    assert rows[0]["price"] == "100.5"
    assert rows[0]["fee"] == "0.1"
    assert rows[0]["account"] == "Main"
    assert rows[0]["venue"] == "StandX"


def test_open_orders_are_listed_apart_from_the_finished_history(account: ExchangeAccount) -> None:
    for i, status in enumerate(["open", "untriggered", "filled", "canceled"], start=1):
        Order.objects.create(
            account=account,
            exchange_id=i,
            symbol="SOL-USD",
            side="buy",
            order_type="limit",
            status=status,
            qty=D(1),
            price=D(90),
            fill_qty=D(1) if status == "filled" else D(0),
            fill_avg_price=D(90) if status == "filled" else None,
            created_at=T0,
        )
    f = history.HistoryFilter([account.pk])
    assert [o.status for o in history.open_orders(f, {})] == ["untriggered", "open"]
    assert [o.status for o in history.order_page(f, None, {}).rows] == ["canceled", "filled"]
    assert history.order_totals(f).filled_volume == D(90)


@pytest.mark.parametrize(
    "text", ["", "x", "1.", ".1", "1.2.3", "9" * 50, "abc.def", "².1", "1.١٢", "--1.2", " 1.2"]
)
def test_a_cursor_we_did_not_make_starts_at_the_top(text: str) -> None:
    assert history.Cursor.decode(text) is None


@pytest.mark.parametrize("key", [-(10**20 - 1), 10**20 - 1])
def test_a_cursor_past_the_ends_of_time_pages_from_the_nearest_end(
    account: ExchangeAccount, key: int
) -> None:
    trades(account, 3)
    cursor = history.Cursor.decode(f"{key}.1")
    assert cursor is not None
    rows = history.trade_page(history.HistoryFilter([account.pk]), cursor, {}, 10).rows
    assert len(rows) == (0 if key < 0 else 3)
