"""The dashboard pages: positions with funding and the stress test, orders, trades and their CSV
exports, the symbol page and the equity data; every page scoped to its owner."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal as D
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import ExchangeAccount, User
from portfolio.market import store as market
from portfolio.models import FundingPayment, FundingRate, MarketSymbol, Order, Position
from tests import factories
from tests.conftest import free_port
from tests.portfolio.alerts.test_evaluation import balance, hold_sol, make_account
from tests.portfolio.conftest import logged_in
from tests.portfolio.dashboard.test_history import T0, trades

pytestmark = pytest.mark.django_db


def streamed(response: Any) -> str:
    """The body of a streamed response, read the way daphne reads it (asynchronously)."""

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(collect)().decode()


@pytest.fixture
def account(alice: User) -> ExchangeAccount:
    # An exchange that does not answer: the symbol page must still render.
    return factories.make_account(alice, url=f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def sol(account: ExchangeAccount) -> Position:
    position = hold_sol(account)
    Position.objects.filter(pk=position.pk).update(opened_at=T0)
    balance(account, "1000", timezone.now())
    return position


def test_positions_show_funding_since_the_position_opened(
    alice: User, account: ExchangeAccount, sol: Position
) -> None:
    for hours, amount in [(-8, "-9.99"), (8, "-0.40"), (16, "0.15")]:  # the first is older
        FundingPayment.objects.create(
            account=account,
            symbol="SOL-USD",
            funding_time=T0 + timedelta(hours=hours),
            funding_rate=D("0.0001"),
            mark_price=D(100),
            position_qty=D(20),
            amount=D(amount),
        )
    page = logged_in(alice).get(reverse("portfolio:positions")).content.decode()
    assert 'data-sort="-0.25' in page  # -0.40 + 0.15, not the payment before it opened
    assert "-0.25</td>" in page
    assert "data-sortable" in page
    assert f'id="pos-{account.pk}-SOL-USD"' in page


def test_bob_sees_none_of_alices_positions_trades_or_orders(
    alice: User, bob: User, account: ExchangeAccount, sol: Position
) -> None:
    trades(account, 3)
    Order.objects.create(
        account=account,
        exchange_id=9,
        symbol="SOL-USD",
        side="buy",
        order_type="limit",
        status="open",
        qty=D(1),
        price=D(90),
        fill_qty=D(0),
        created_at=T0,
    )
    make_account(bob, address="0xb")
    client = logged_in(bob)
    for name in ("positions", "orders", "trades", "overview"):
        assert "SOL-USD" not in client.get(reverse(f"portfolio:{name}")).content.decode(), name
    exported = client.get(reverse("portfolio:trades_csv"))
    assert len(streamed(exported).splitlines()) == 1
    assert client.get(reverse("portfolio:trades"), {"account": account.pk}).status_code == 200
    assert (
        "SOL-USD"
        not in client.get(reverse("portfolio:trades"), {"account": account.pk}).content.decode()
    )


@pytest.mark.parametrize(
    ("pct", "liquidated", "equity_after"),
    [
        ("-5", "No position would be liquidated.", "1,100.00"),
        ("-10", "1 position would be liquidated:", "1,000.00"),
    ],
)
def test_the_stress_test_says_which_positions_would_be_liquidated(
    alice: User, sol: Position, pct: str, liquidated: str, equity_after: str
) -> None:
    # Isolated 20 SOL long from 100 with 200 margin and 1 % maintenance: liquidates at 90.91.
    response = logged_in(alice).get(
        reverse("portfolio:positions_stress"), {"symbol": "SOL-USD", "pct": pct}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert liquidated in page
    # Equity: 1,000 cross balance + the isolated 200 margin; 20 SOL lose 20 per 1 % move.
    assert f'1,200.00 → <span id="stress-equity">{equity_after}</span>' in page


def test_the_stress_test_works_without_javascript(alice: User, sol: Position) -> None:
    page = logged_in(alice).get(reverse("portfolio:positions"), {"symbol": "", "pct": "-10"})
    assert "1 position would be liquidated" in page.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"pct": "abc"}, "Enter a number."),
        ({"pct": "500"}, "less than or equal to 90"),
        ({"pct": "5", "symbol": "DOGE-USD"}, "Select a valid choice."),
    ],
)
def test_bad_stress_input_gets_a_message_not_an_error_page(
    alice: User, sol: Position, params: dict[str, str], message: str
) -> None:
    response = logged_in(alice).get(reverse("portfolio:positions_stress"), params)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_trade_page_paginates_with_totals_over_all_matching_trades(
    alice: User, account: ExchangeAccount
) -> None:
    trades(account, 130)
    client = logged_in(alice)
    first = client.get(reverse("portfolio:trades"))
    page = first.content.decode()
    assert page.count("<tr data-id=") == 100
    assert 'data-field="count">130<' in page
    cursor = first.context["page"].next_cursor
    second = client.get(reverse("portfolio:trades"), {"after": cursor}).content.decode()
    assert second.count("<tr data-id=") == 30
    assert "← Newest" in second


def test_filter_errors_are_shown_on_the_field(alice: User, account: ExchangeAccount) -> None:
    response = logged_in(alice).get(
        reverse("portfolio:trades"), {"start": "2026-11-10", "end": "2026-11-01"}
    )
    assert "The end date is before the start date." in response.content.decode()
    response = logged_in(alice).get(reverse("portfolio:orders"), {"start": "yesterday"})
    assert "Enter a valid date." in response.content.decode()


EXTREME_DATES = [
    {"end": "9999-12-31"},
    {"start": "9999-12-31", "end": "9999-12-31"},
    {"start": "0001-01-01", "end": "0001-01-01"},
]


@pytest.mark.parametrize("dates", EXTREME_DATES)
@pytest.mark.parametrize(
    "page", ["portfolio:orders", "portfolio:orders_csv", "portfolio:trades", "portfolio:trades_csv"]
)
def test_the_history_pages_take_the_first_and_last_days_a_date_can_name(
    alice: User, account: ExchangeAccount, page: str, dates: dict[str, str]
) -> None:
    response = logged_in(alice).get(reverse(page), dates)
    assert response.status_code == 200
    if response.streaming:  # the export: its header row, and nothing that matches
        assert len(list(csv.reader(io.StringIO(streamed(response))))) == 1


def test_a_trade_filter_to_the_last_day_a_date_can_name_lists_everything(
    alice: User, account: ExchangeAccount
) -> None:
    trades(account, 3)
    client = logged_in(alice)
    page = client.get(reverse("portfolio:trades"), {"end": "9999-12-31"}).content.decode()
    assert page.count("<tr data-id=") == 3
    exported = streamed(client.get(reverse("portfolio:trades_csv"), {"end": "9999-12-31"}))
    assert len(list(csv.reader(io.StringIO(exported)))) == 1 + 3


def test_the_order_page_lists_open_orders_and_history(
    alice: User, account: ExchangeAccount
) -> None:
    for i, status in enumerate(["open", "filled"], start=1):
        Order.objects.create(
            account=account,
            exchange_id=i,
            symbol="SOL-USD",
            side="sell",
            order_type="limit",
            status=status,
            qty=D(2),
            price=D(120),
            fill_qty=D(2) if status == "filled" else D(0),
            fill_avg_price=D(120) if status == "filled" else None,
            created_at=T0,
            reduce_only=True,
        )
    response = logged_in(alice).get(reverse("portfolio:orders"))
    assert [o.exchange_id for o in response.context["open_orders"]] == ["1"]
    assert [o.exchange_id for o in response.context["page"].rows] == ["2"]
    assert 'data-field="volume">240.00<' in response.content.decode()


def test_the_csv_export_streams_with_a_download_name(alice: User, account: ExchangeAccount) -> None:
    trades(account, 5)
    response = logged_in(alice).get(reverse("portfolio:trades_csv"), {"side": "buy"})
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="standx-trades-' in response["Content-Disposition"]
    body = streamed(response)
    rows = list(csv.DictReader(io.StringIO(body)))
    assert [r["side"] for r in rows] == ["buy"] * 3


def test_the_csv_exports_name_each_rows_venue_and_account(
    alice: User, account: ExchangeAccount
) -> None:
    perp = factories.make_account(alice, "Perp", "0xb", venue="perpex")
    trades(account, 2)
    trades(perp, 3, symbol="SOL-USD", start_id=10)
    Order.objects.create(
        account=perp,
        exchange_id="p-1",
        symbol="SOL-USD",
        side="sell",
        order_type="limit",
        status="canceled",
        qty=D(1),
        price=D(150),
        fill_qty=D(0),
        created_at=T0,
    )
    client = logged_in(alice)
    traded = csv.DictReader(io.StringIO(streamed(client.get(reverse("portfolio:trades_csv")))))
    assert traded.fieldnames is not None
    assert traded.fieldnames[1:3] == ["venue", "account"]
    named = sorted((r["venue"], r["account"], r["trade_id"]) for r in traded)
    perpex_rows = [("PerpEx", "Perp", str(i)) for i in (10, 11, 12)]
    assert named == [*perpex_rows, ("StandX", "Main", "1"), ("StandX", "Main", "2")]
    exported = streamed(client.get(reverse("portfolio:orders_csv")))
    ordered = list(csv.DictReader(io.StringIO(exported)))
    assert [(r["venue"], r["account"], r["order_id"]) for r in ordered] == [
        ("PerpEx", "Perp", "p-1")
    ]


def page_queries(captured: list[dict[str, str]]) -> list[str]:
    """The page's own queries: without the session and user lookups of the middleware, the
    session save, the sessions list's once-a-minute "last seen" and the test transaction's
    savepoints."""
    skip = (
        "SAVEPOINT",
        "RELEASE SAVEPOINT",
        "BEGIN",
        "COMMIT",
        'SELECT "django_session"',
        'UPDATE "django_session"',
        'SELECT "accounts_user"',
        'SELECT "accounts_usersession"',
        'UPDATE "accounts_usersession"',
        'INSERT INTO "accounts_usersession"',
    )
    return [q["sql"] for q in captured if not q["sql"].lstrip().startswith(skip)]


@pytest.mark.parametrize("name", ["overview", "positions", "orders", "trades", "symbol"])
def test_each_page_takes_at_most_ten_queries_of_its_own(
    alice: User, account: ExchangeAccount, sol: Position, name: str
) -> None:
    trades(account, 50)
    client = logged_in(alice)
    with CaptureQueriesContext(connection) as context:
        url = reverse("portfolio:symbol", args=["standx", "SOL-USD"]) if name == "symbol" else None
        assert client.get(url or reverse(f"portfolio:{name}")).status_code == 200
    assert len(page_queries(context.captured_queries)) <= 10


def test_the_symbol_page_shows_market_funding_and_an_exchange_error_in_words(
    alice: User, account: ExchangeAccount, sol: Position
) -> None:
    market.mark_store("standx", "SOL-USD", mark=D("101.25"), source="stream", at=timezone.now())
    MarketSymbol.objects.create(
        symbol="SOL-USD",
        base_asset="SOL",
        quote_asset="DUSD",
        price_tick_decimals=2,
        qty_tick_decimals=2,
        min_order_qty=D("0.01"),
        max_order_qty=D(10000),
        max_leverage=D(20),
        maker_fee=D("0.0001"),
        taker_fee=D("0.0004"),
        price_cap_ratio=D("0.1"),
        price_floor_ratio=D("0.1"),
    )
    FundingRate.objects.create(
        symbol="SOL-USD", time=timezone.now() - timedelta(hours=1), funding_rate=D("0.000125")
    )
    trades(account, 2)
    response = logged_in(alice).get(reverse("portfolio:symbol", args=["standx", "SOL-USD"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-field="mark">101.25<' in page
    assert "+0.0125%" in page
    assert "StandX did not return the price history just now" in page
    assert response.context["chart"]["markers"][0]["text"] == "Buy 2 @ 100.5"


def test_an_unknown_symbol_is_not_found(alice: User, account: ExchangeAccount) -> None:
    assert (
        logged_in(alice).get(reverse("portfolio:symbol", args=["standx", "NOPE-USD"])).status_code
        == 404
    )


def test_equity_data_answers_for_the_chosen_range(alice: User, account: ExchangeAccount) -> None:
    balance(account, "1000", timezone.now() - timedelta(days=3))
    data = logged_in(alice).get(reverse("portfolio:equity_data"), {"range": "30d"}).json()
    assert data["range"] == "30d"
    assert data["equity"][-1]["value"].startswith("1000")


def test_pages_explain_themselves_before_an_account_is_linked(alice: User) -> None:
    client = logged_in(alice)
    for name in ("positions", "orders", "trades"):
        assert (
            "No StandX account is linked yet"
            in client.get(reverse(f"portfolio:{name}")).content.decode()
        )


def test_anonymous_visitors_are_sent_to_log_in() -> None:
    for name in ("positions", "orders", "trades", "trades_csv", "equity_data"):
        response = Client().get(reverse(f"portfolio:{name}"))
        assert response.status_code == 302
        assert "/login" in response["Location"]


def test_symbol_pages_are_per_venue(alice: User, account: ExchangeAccount, sol: Position) -> None:
    client = logged_in(alice)
    assert client.get(reverse("portfolio:symbol", args=["standx", "SOL-USD"])).status_code == 200
    nowhere = reverse("portfolio:symbol", args=["nowhere", "SOL-USD"])
    assert client.get(nowhere).status_code == 404
    # The overview links each position to its own venue's page.
    assert (
        reverse("portfolio:symbol", args=["standx", "SOL-USD"]) in client.get("/").content.decode()
    )


def feed_row(html: str, venue: str) -> str:
    start = html.index(f'data-part="feed-{venue}"')
    return html[start : html.index("</tr>", start)]


def test_the_overview_expects_a_price_feed_where_its_reader_holds_positions(
    alice: User, bob: User, sol: Position
) -> None:
    from portfolio import health
    from standx_web.redis_client import redis_client

    redis_client().delete(health.PRICESTREAM_FEEDS_KEY)  # no venue's feed is reporting
    with CaptureQueriesContext(connection) as context:
        alices = logged_in(alice).get(reverse("portfolio:overview")).content.decode()
    assert "no feed heartbeat recorded" in feed_row(alices, "standx")
    # The reader's positions are already on the page: nobody else's are asked about.
    assert not [
        q
        for q in page_queries(context.captured_queries)
        if 'DISTINCT "accounts_exchangeaccount"."venue"' in q
    ]
    factories.make_account(bob, url=f"http://127.0.0.1:{free_port()}")
    bobs = logged_in(bob).get(reverse("portfolio:overview")).content.decode()
    assert "no symbols to watch" in feed_row(bobs, "standx")
