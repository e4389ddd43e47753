"""The dashboard end to end: the demo user trades on the simulator, the sync stores it, and
Chromium opens every page; the figures on screen must be the database's and the simulator's.

Screenshots of the overview and positions pages, at desktop and phone widths, go to
var/screenshots (the best two are copied into docs/screenshots for the README).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import ExchangeAccount
from exchange_common.ratelimit import NoRateLimit
from portfolio.dashboard import selectors
from portfolio.models import (
    BalanceSnapshot,
    CashFlow,
    FundingPayment,
    MarketPrice,
    Order,
    Position,
    Trade,
)
from portfolio.sync import funding
from portfolio.sync import pipeline as sync
from portfolio.templatetags.money import num, signed
from tests.conftest import market_data_synced, wait_for
from tests.e2e.conftest import demo_linked, off_loop, price_stream_on
from tests.e2e.test_link_accounts import log_in
from tests.standx_access import client_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1360, "height": 900}


def sim_marks(sim_url: str) -> dict[str, Decimal]:
    state = httpx.get(f"{sim_url}/sim/state", timeout=10).json()
    return {symbol: Decimal(mark) for symbol, mark in state["marks"].items()}


@pytest.fixture
def demo_trader(sim_url: str) -> Iterator[ExchangeAccount]:
    """The demo user, trading on the simulator: an isolated SOL long, a cross BTC short, a
    partly closed SOL position (a realized fill), a resting ETH bid, a funding payment, and a
    week of balance history."""
    account = demo_linked(sim_url)
    httpx.post(f"{sim_url}/sim/pause", json={"paused": True}, timeout=10)
    try:
        eth_bid = (sim_marks(sim_url)["ETH-USD"] * Decimal("0.95")).quantize(Decimal("0.01"))
        with client_for(account, rate_limiter=NoRateLimit()) as client:
            for order in (
                {
                    "symbol": "SOL-USD",
                    "side": "buy",
                    "qty": "20",
                    "margin_mode": "isolated",
                    "leverage": 10,
                },
                {"symbol": "SOL-USD", "side": "sell", "qty": "5", "reduce_only": True},
                {
                    "symbol": "BTC-USD",
                    "side": "sell",
                    "qty": "0.05",
                    "margin_mode": "cross",
                    "leverage": 5,
                },
            ):
                client.new_order(order_type="market", time_in_force="ioc", **order)  # type: ignore[arg-type]
            client.new_order(
                symbol="ETH-USD",
                side="buy",
                order_type="limit",
                qty="1",
                price=eth_bid,
                time_in_force="gtc",
                margin_mode="cross",
                leverage=5,
            )
        httpx.post(f"{sim_url}/sim/funding", json={"symbol": "SOL-USD"}, timeout=10)

        def synced() -> bool:
            off_loop(lambda: sync.account_sync(account.pk, limiter=NoRateLimit()))
            return (
                Position.objects.filter(account=account).count() == 2
                and Order.objects.filter(account=account, status="open").exists()
                and Trade.objects.filter(account=account).count() >= 3
            )

        wait_for(synced, 20)
        market_data_synced(sim_url)
        off_loop(lambda: funding.funding_rebuild(account, until=timezone.now()))
        history_of(account)
        yield account
    finally:
        httpx.post(f"{sim_url}/sim/pause", json={"paused": False}, timeout=10)


def history_of(account: ExchangeAccount) -> None:
    """A week of earlier balance snapshots under the synced one, so the curve has a shape."""
    latest = BalanceSnapshot.objects.filter(account=account).latest("taken_at")
    # Before the fixture's fills and funding the balance was lower by what they made, or the
    # cash-flow check would take their PnL for a deposit.
    made = sum(t.pnl - t.fee_qty for t in Trade.objects.filter(account=account)) + sum(
        f.amount for f in FundingPayment.objects.filter(account=account)
    )
    now = timezone.now()
    rows = []
    for hours in range(168, 0, -6):
        factor = Decimal(1) + Decimal((hours % 48) - 24) / Decimal(400)
        rows.append(
            BalanceSnapshot(
                account=account,
                taken_at=now - timedelta(hours=hours),
                **{
                    f: getattr(latest, f)
                    for f in ("upnl", "margin_used", "available", "locked", "cross_upnl")
                },
                cross_balance=(latest.cross_balance or made) - made,
                cash=latest.cash - made,
                equity=(latest.equity * factor).quantize(Decimal("0.01")),
            )
        )
    BalanceSnapshot.objects.bulk_create(rows)
    # The account was linked before this made-up week, not at its first real sync: its equity
    # entered then, so a range across the week does not count it as gain.
    CashFlow.objects.filter(account=account, kind="link").update(
        time=rows[0].taken_at, amount=rows[0].equity
    )


@pytest.fixture
def price_stream(sim_url: str, demo_trader: ExchangeAccount) -> Iterator[None]:
    with price_stream_on(sim_url):
        yield


def field(page: Page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def test_every_page_shows_the_databases_and_the_simulators_figures(
    browser: Any, daphne_url: str, sim_url: str, demo_trader: ExchangeAccount, screenshot_dir: Path
) -> None:
    account = demo_trader
    demo = account.owner
    ctx = selectors.risk_context(demo.pk)
    summary = selectors.portfolio_summary(ctx)
    rows = {p.symbol: p for p in selectors.positions_for_user(ctx, with_funding=True)}
    ledger = httpx.get(f"{sim_url}/sim/ledger", params={"address": account.address}).json()
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        log_in(page, daphne_url, "demo")
        # Overview: totals, the account row, the equity curve drawn by lightweight-charts.
        expect(page.locator("#conn-state")).to_have_text("Live")
        assert field(page, "#portfolio-totals [data-field=equity]") == num(summary.equity, 2)
        assert field(page, "#portfolio-totals [data-field=upnl]") == signed(summary.upnl, 2)
        assert Decimal(ledger["balance"]["balance"]) == summary.balance  # the simulator agrees
        expect(page.locator("#equity-chart canvas").first).to_be_visible()
        assert int(page.locator("#equity-chart").get_attribute("data-points") or 0) > 20
        page.get_by_role("button", name="24h").click()
        expect(page.locator("#equity-chart")).to_have_attribute("data-range", "24h")
        expect(page.locator("#drawdown-chart canvas").first).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "overview-desktop.png"), full_page=True)

        # Positions: each row as the database has it, funding, sorting, the stress test.
        page.get_by_role("link", name="Positions", exact=True).click()
        sol = page.locator(f"#pos-{account.pk}-SOL-USD")
        btc = page.locator(f"#pos-{account.pk}-BTC-USD")
        expect(sol).to_contain_text(num(rows["SOL-USD"].size))
        expect(sol).to_contain_text("isolated")
        expect(btc).to_contain_text("cross")
        assert field(page, f"#pos-{account.pk}-SOL-USD [data-field=funding]") == signed(
            rows["SOL-USD"].funding, 2
        )
        sim_sol = next(p for p in ledger_positions(sim_url, account) if p["symbol"] == "SOL-USD")
        assert (
            Decimal(sim_sol["qty"]) == Position.objects.get(account=account, symbol="SOL-USD").qty
        )
        page.locator("#positions thead th", has_text="Position").get_by_role("button").click()
        expect(page.locator("#positions tbody tr").first).to_have_id(f"pos-{account.pk}-BTC-USD")
        page.locator("#positions thead th", has_text="Position").get_by_role("button").click()
        expect(page.locator("#positions tbody tr").first).to_have_id(f"pos-{account.pk}-SOL-USD")
        page.get_by_label("Move", exact=True).select_option("SOL-USD")
        page.locator("#stress-range").fill("-30")
        expect(page.locator("#stress-liquidated")).to_contain_text("would be liquidated: SOL-USD")
        page.screenshot(path=str(screenshot_dir / "positions-desktop.png"), full_page=True)
        page.locator("#stress-range").fill("0")
        expect(page.locator("#stress-liquidated")).to_have_text("No position would be liquidated.")

        # Orders: the resting bid is open; the market orders are history.
        page.get_by_role("link", name="Orders", exact=True).click()
        open_order = Order.objects.get(account=account, status="open")
        expect(
            page.locator(f"#open-orders tr[data-id='{open_order.exchange_id}']")
        ).to_contain_text("ETH-USD")
        finished = Order.objects.filter(account=account).exclude(status__in=["open", "untriggered"])
        expect(page.locator("#order-history tbody tr")).to_have_count(finished.count())
        sim_open = [o for o in ledger["orders"] if o["status"] in ("open", "new")]
        assert [str(o["id"]) for o in sim_open] == [open_order.exchange_id]

        # Trades: every fill, the totals the database gives, and the CSV with the same rows.
        page.get_by_role("link", name="Trades", exact=True).click()
        trades = Trade.objects.filter(account=account)
        expect(page.locator("#trades tbody tr")).to_have_count(trades.count())
        assert trades.count() == len(ledger["trades"])
        assert field(page, "#trade-totals [data-field=count]") == str(trades.count())
        fees = sum((t.fee_qty for t in trades), Decimal(0))
        assert field(page, "#trade-totals [data-field=fees]") == num(fees, 2)
        with page.expect_download() as download:
            page.get_by_role("link", name="Export CSV").click()
        lines = Path(download.value.path()).read_text().splitlines()
        assert len(lines) == 1 + trades.count()
        page.get_by_label("Side").select_option("sell")
        page.get_by_role("button", name="Apply").click()
        expect(page.locator("#trades tbody tr")).to_have_count(trades.filter(side="sell").count())

        # Symbol page: candles from kline/history, the user's fills marked, market stats.
        page.locator("#trades").get_by_role("link", name="SOL-USD").first.click()
        expect(page.get_by_role("heading", name="SOL-USD", level=1)).to_be_visible()
        expect(page.locator("#candle-chart canvas").first).to_be_visible()
        assert int(page.locator("#candle-chart").get_attribute("data-candles") or 0) > 0
        price = market_price("SOL-USD")
        assert field(page, "#market-stats [data-field=mark]") == num(price)
        page.get_by_role("button", name="1m", exact=True).click()
        expect(page.get_by_role("button", name="1m", exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(page.locator("#candles-error")).to_be_hidden()
        assert int(page.locator("#candle-chart").get_attribute("data-markers") or 0) >= 1
        # The change over the chart range follows the resolution (cached candles: the same).
        shown = page.request.get(f"{daphne_url}/symbols/standx/SOL-USD/candles.json?resolution=1")
        change = Decimal(shown.json()["change_pct"])
        assert field(page, "#market-stats [data-field=change]") == f"{signed(change, 2)}%"

        # The remaining pages open with their own content, not an error page.
        page.get_by_role("link", name="Alerts", exact=True).click()
        expect(page.get_by_role("heading", name="Alerts", level=1)).to_be_visible()
        page.get_by_role("link", name="Edit rules and quiet hours").click()
        expect(page.get_by_role("heading", name="Alert rules", level=1)).to_be_visible()
        page.get_by_role("link", name="Accounts", exact=True).click()
        expect(page.get_by_role("heading", name="Linked accounts", level=1)).to_be_visible()
        page.get_by_role("link", name="Trade", exact=True).click()
        expect(page.get_by_role("heading", name="New order", level=1)).to_be_visible()
    finally:
        context.close()

    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = phone.new_page()
    try:
        log_in(page, daphne_url, "demo")
        expect(page.locator("#equity-chart canvas").first).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "overview-phone.png"), full_page=True)
        page.goto(f"{daphne_url}/positions/")
        expect(page.locator(f"#pos-{account.pk}-SOL-USD")).to_be_visible()
        page.screenshot(path=str(screenshot_dir / "positions-phone.png"), full_page=True)
        # Nothing wider than the phone except inside the scrolling table wrappers.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
    finally:
        phone.close()


def test_a_deposit_is_marked_on_the_curve_and_leaves_return_and_drawdown_alone(
    browser: Any, daphne_url: str, sim_url: str, demo_trader: ExchangeAccount
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()

    def figures() -> tuple[str, str]:
        # The chart script has drawn the default range and listens to the range buttons.
        expect(page.locator("#equity-chart")).to_have_attribute("data-range", "7d")
        page.get_by_role("button", name="24h").click()
        expect(page.locator("#equity-chart")).to_have_attribute("data-range", "24h")
        markers = page.locator("#equity-chart").get_attribute("data-markers") or ""
        return field(page, "#equity-caption"), markers

    try:
        log_in(page, daphne_url, "demo")
        caption, markers = figures()
        assert "deposits and withdrawals +0.00" in caption and markers == "0"
        equity = BalanceSnapshot.objects.filter(account=demo_trader).latest("taken_at").equity
        httpx.post(
            f"{sim_url}/sim/deposit", json={"address": demo_trader.address, "amount": "5000"}
        ).raise_for_status()
        off_loop(lambda: sync.account_sync(demo_trader.pk, limiter=NoRateLimit()))
        latest = BalanceSnapshot.objects.filter(account=demo_trader).latest("taken_at")
        assert latest.equity == equity + 5000  # the curve does step up by the deposit
        page.reload()
        after, markers = figures()
        assert markers == "1"
        # Return, PnL and drawdown as before; only the money moved in is new.
        moved = after.replace("withdrawals +5,000.00", "withdrawals +0.00")
        assert moved == caption
    finally:
        context.close()


# How far each fill label's right end lies inside the candle chart's plot (the price axis
# starts at its width); labels are centred on their bar in the chart's 12 px font.
LABEL_CLEARANCE = """() => {
  const el = document.getElementById("candle-chart");
  const ts = el.chart.timeScale();
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = "12px -apple-system, BlinkMacSystemFont, 'Trebuchet MS', Roboto, Ubuntu, sans-serif";
  const right = (m) => ts.timeToCoordinate(m.time) + ctx.measureText(m.text).width / 2;
  return el.placed.map((m) => ts.width() - right(m));
}"""


def test_fill_labels_on_the_candle_chart_clear_the_price_axis(
    browser: Any, daphne_url: str, demo_trader: ExchangeAccount
) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        cache.clear()  # candles cached by an earlier test end before this test's fills
        log_in(page, daphne_url, "demo")
        page.goto(f"{daphne_url}/symbols/standx/SOL-USD/")
        placed = page.locator("#candle-chart[data-labels-placed]")
        expect(placed).to_be_attached()  # the default 15m candles
        first = page.evaluate(LABEL_CLEARANCE)
        # 1m: pressed once its candles are drawn; the labels are placed a frame later.
        page.get_by_role("button", name="1m", exact=True).click()
        expect(page.get_by_role("button", name="1m", exact=True)).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(placed).to_be_attached()
        for clearances in (first, page.evaluate(LABEL_CLEARANCE)):
            assert clearances and min(clearances) >= 0
    finally:
        context.close()


# Every page a signed-in user reaches from the menus, with data (demo_trader) behind them.
PHONE_PAGES = [
    "/",
    "/positions/",
    "/orders/",
    "/trades/",
    "/symbols/standx/SOL-USD/",
    "/trade/",
    "/activity/",
    "/alerts/",
    "/alerts/rules/",
    "/settings/devices/",
    "/accounts/links/",
    "/accounts/links/new/",
    "/accounts/password/",
]

# Elements whose right edge passes the viewport, unless a scrolling wrapper holds them, and
# tables whose header shows more columns than their rows.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => ["auto", "scroll"].includes(getComputedStyle(el).overflowX);
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (!box.width || !box.height || box.right <= width + 0.5) continue;
    let up = el.parentElement;
    while (up && up !== document.body && !scrolls(up)) up = up.parentElement;
    if (up && up !== document.body) continue;
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "");
    out.push(`${name} right=${Math.round(box.right)}`);
  }
  // A column hidden on a phone takes its header with it.
  const shown = (row) => [...row.cells].filter((c) => getComputedStyle(c).display !== "none")
    .reduce((n, c) => n + c.colSpan, 0);
  for (const table of document.querySelectorAll("table")) {
    const head = table.tHead && table.tHead.rows[0];
    const body = table.tBodies[0] && table.tBodies[0].rows[0];
    if (head && body && shown(head) !== shown(body)) out.push(`${table.id || "table"} headers`);
  }
  return { width: document.documentElement.scrollWidth, over: out.slice(0, 8) };
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_fits_a_phone(
    browser: Any, daphne_url: str, demo_trader: ExchangeAccount, scheme: str
) -> None:
    phone = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, color_scheme=scheme
    )
    page = phone.new_page()
    try:
        log_in(page, daphne_url, "demo")
        misfits = {}
        for path in PHONE_PAGES:
            page.goto(f"{daphne_url}{path}")
            expect(page.locator("h1").first).to_be_visible()
            found = page.evaluate(OVERFLOWING)
            if found["width"] > PHONE["width"] or found["over"]:
                misfits[path] = found
        assert misfits == {}
    finally:
        phone.close()


def ledger_positions(sim_url: str, account: ExchangeAccount) -> list[dict[str, Any]]:
    with client_for(account, rate_limiter=NoRateLimit()) as client:
        return [{"symbol": p.symbol, "qty": str(p.qty)} for p in client.query_positions()]


def market_price(symbol: str) -> Decimal:
    mark = MarketPrice.objects.get(symbol=symbol).mark_price
    assert mark is not None
    return mark


def test_numbers_change_in_place_when_the_mark_moves(
    browser: Any, daphne_url: str, sim_url: str, demo_trader: ExchangeAccount, price_stream: None
) -> None:
    account = demo_trader
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    try:
        log_in(page, daphne_url, "demo")
        expect(page.locator("#conn-state")).to_have_text("Live")
        page.evaluate("window.__sameDocument = true")
        before = field(page, "#portfolio-totals [data-field=equity]")
        mark = (sim_marks(sim_url)["SOL-USD"] * Decimal("1.02")).quantize(Decimal("0.001"))
        httpx.post(
            f"{sim_url}/sim/price", json={"symbol": "SOL-USD", "mark_price": str(mark)}, timeout=10
        ).raise_for_status()
        cell = page.locator(f"#pos-{account.pk}-SOL-USD [data-field=mark]")
        expect(cell).to_have_text(num(mark), timeout=15_000)
        assert field(page, "#portfolio-totals [data-field=equity]") != before
        assert page.evaluate("window.__sameDocument") is True  # no reload happened
        # The database agrees with what the page now shows.
        ctx = selectors.risk_context(account.owner_id)
        assert field(page, "#portfolio-totals [data-field=equity]") == num(
            selectors.portfolio_summary(ctx).equity, 2
        )
    finally:
        context.close()
