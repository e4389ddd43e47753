"""Every endpoint through the client against a real simulator over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from standx import errors
from standx.models import Balance, Position
from standx.rest import StandXClient, new_cl_ord_id
from tests.conftest import wait_for
from tests.standx.conftest import sim_control

SYMBOLS = {"BTC-USD", "ETH-USD", "SOL-USD", "XAU-USD"}


def test_public_market_data(public: StandXClient) -> None:
    assert public.health() is True
    assert abs(public.server_time() - time.time()) < 5
    infos = public.query_symbol_info()
    assert {i.symbol for i in infos} == SYMBOLS
    btc = public.query_symbol_info(symbol="BTC-USD")
    assert len(btc) == 1
    assert btc[0].max_leverage > 1
    assert btc[0].min_order_qty > 0
    market = public.query_symbol_market(symbol="BTC-USD")
    assert market.mark_price is not None
    assert market.mark_price > 0
    assert market.funding_rate is not None
    price = public.query_symbol_price(symbol="ETH-USD")
    assert price.symbol == "ETH-USD"
    assert price.index_price is not None
    book = public.query_depth_book(symbol="BTC-USD")
    assert book.bids
    assert book.asks
    assert book.bids[0].price < book.asks[0].price
    assert [lv.price for lv in book.asks] == sorted(lv.price for lv in book.asks)
    assert isinstance(public.query_recent_trades(symbol="BTC-USD"), list)
    now = datetime.now(UTC)
    rates = public.query_funding_rates(
        symbol="BTC-USD", start_time=now - timedelta(days=2), end_time=now
    )
    assert all(r.symbol == "BTC-USD" for r in rates)
    candles = public.kline_history(
        symbol="BTC-USD", resolution="1", start=now - timedelta(hours=1), end=now
    )
    assert all(c.low <= c.close <= c.high for c in candles)


def test_listed_symbols_are_trading_and_a_halted_one_is_not_tradable(
    public: StandXClient, alice: StandXClient, symbol_status: Callable[[str, str], None]
) -> None:
    assert {(i.status, i.tradable) for i in public.query_symbol_info()} == {("trading", True)}
    symbol_status("XAU-USD", "halt")
    (xau,) = public.query_symbol_info(symbol="XAU-USD")
    assert (xau.status, xau.tradable) == ("halt", False)
    with pytest.raises(errors.BadRequestError) as refused:
        alice.new_order(symbol="XAU-USD", side="buy", order_type="market", qty="0.01")
    assert refused.value.message == "symbol XAU-USD is not trading (status halt)"


def test_an_unknown_symbol_is_a_clear_bad_request(public: StandXClient) -> None:
    with pytest.raises(errors.BadRequestError) as info:
        public.query_symbol_market(symbol="DOGE-USD")
    assert "DOGE-USD" in info.value.message or "symbol" in info.value.message.lower()


def test_a_funded_account_has_its_deposit_as_equity(alice: StandXClient) -> None:
    balance = alice.query_balance()
    assert balance.funded
    assert balance.equity == Decimal(10000)
    assert balance.balance == Decimal(10000)
    assert alice.query_positions() == []


def test_a_market_order_opens_a_position_found_by_cl_ord_id(alice: StandXClient) -> None:
    cl_ord_id = new_cl_ord_id()
    ack = alice.new_order(
        symbol="BTC-USD",
        side="buy",
        order_type="market",
        qty="0.01",
        time_in_force="ioc",
        cl_ord_id=cl_ord_id,
    )
    assert ack.code == 0
    order = wait_for(lambda: _filled(alice, cl_ord_id), timeout=10)
    assert order.fill_qty == Decimal("0.01")
    assert order.fill_avg_price is not None
    positions: list[Position] = wait_for(lambda: alice.query_positions(symbol="BTC-USD"), 10)
    assert positions[0].qty == Decimal("0.01")
    assert positions[0].side == "long"
    # 0.01 BTC in cross margin on 10,000 cannot be liquidated: StandX reports no price.
    assert positions[0].liq_price is None
    trades = list(alice.iter_trades(symbol="BTC-USD"))
    assert trades[0].order_id == order.id
    assert trades[0].fee_qty > 0
    balance: Balance = alice.query_balance()
    assert balance.equity < Decimal(10000) + 1000  # fees and spread, nothing absurd
    config = alice.query_position_config(symbol="BTC-USD")
    assert config.symbol == "BTC-USD"


def _filled(client: StandXClient, cl_ord_id: str) -> Any:
    try:
        order = client.query_order(cl_ord_id=cl_ord_id)
    except errors.NotFoundError:
        return None
    return order if order.status == "filled" else None


def test_a_resting_limit_order_is_listed_and_cancelled(alice: StandXClient) -> None:
    mark = alice.query_symbol_price(symbol="ETH-USD").mark_price
    assert mark is not None
    price = (mark * Decimal("0.8")).quantize(Decimal("0.01"))
    cl_ord_id = new_cl_ord_id()
    alice.new_order(
        symbol="ETH-USD",
        side="buy",
        order_type="limit",
        qty="0.1",
        price=price,
        cl_ord_id=cl_ord_id,
    )
    order = wait_for(lambda: _open(alice, cl_ord_id), timeout=10)
    assert order.price == price
    assert [o.id for o in alice.query_open_orders(symbol="ETH-USD").result] == [order.id]
    alice.cancel_order(order_id=order.id)
    wait_for(lambda: alice.query_order(order_id=order.id).status == "canceled", timeout=10)
    assert alice.query_open_orders().result == ()


def _open(client: StandXClient, cl_ord_id: str) -> Any:
    try:
        order = client.query_order(cl_ord_id=cl_ord_id)
    except errors.NotFoundError:
        return None
    return order if order.is_open else None


def test_cancel_orders_cancels_a_list(alice: StandXClient) -> None:
    mark = alice.query_symbol_price(symbol="SOL-USD").mark_price
    assert mark is not None
    price = (mark * Decimal("0.8")).quantize(Decimal("0.01"))
    ids = [new_cl_ord_id() for _ in range(3)]
    for cl in ids:
        alice.new_order(
            symbol="SOL-USD", side="buy", order_type="limit", qty="1", price=price, cl_ord_id=cl
        )
    wait_for(lambda: len(alice.query_open_orders(symbol="SOL-USD").result) == 3, timeout=10)
    alice.cancel_orders(cl_ord_ids=ids)
    wait_for(lambda: not alice.query_open_orders(symbol="SOL-USD").result, timeout=10)


def test_pagination_walks_every_order_once_with_last_id(alice: StandXClient) -> None:
    mark = alice.query_symbol_price(symbol="BTC-USD").mark_price
    assert mark is not None
    price = (mark * Decimal("0.8")).quantize(Decimal("0.01"))  # inside the ±30% band
    for _ in range(7):
        alice.new_order(symbol="BTC-USD", side="buy", order_type="limit", qty="0.001", price=price)
    wait_for(lambda: len(alice.query_open_orders().result) == 7, timeout=10)
    first_page = alice.query_orders(limit=3)
    assert len(first_page.result) == 3
    assert first_page.total == 7
    seen = [o.id for o in alice.iter_orders(page_size=3)]
    assert len(seen) == len(set(seen)) == 7
    assert seen == sorted(seen, reverse=True)


def test_leverage_and_margin_mode_changes_and_isolated_margin_transfer(
    alice: StandXClient,
) -> None:
    alice.change_leverage(symbol="XAU-USD", leverage=5)
    assert alice.query_position_config(symbol="XAU-USD").leverage == Decimal(5)
    alice.change_margin_mode(symbol="XAU-USD", margin_mode="isolated")
    assert alice.query_position_config(symbol="XAU-USD").margin_mode == "isolated"
    alice.new_order(symbol="XAU-USD", side="buy", order_type="market", qty="1", time_in_force="ioc")
    position = wait_for(lambda: alice.query_positions(symbol="XAU-USD"), timeout=10)[0]
    assert position.margin_mode == "isolated"
    assert position.liq_price is not None
    assert position.liq_price < position.entry_price
    before = position.holding_margin or position.initial_margin
    assert before is not None
    alice.transfer_margin(symbol="XAU-USD", amount_in="100")
    after = wait_for(lambda: _margin_above(alice, before), timeout=10)
    assert after == before + 100


def _margin_above(client: StandXClient, before: Decimal) -> Decimal | None:
    position = client.query_positions(symbol="XAU-USD")[0]
    margin = position.holding_margin or position.initial_margin
    return margin if margin is not None and margin > before else None


def test_leverage_above_the_maximum_is_refused_in_plain_words(alice: StandXClient) -> None:
    with pytest.raises(errors.BadRequestError) as info:
        alice.change_leverage(symbol="BTC-USD", leverage=1000)
    assert "leverage" in info.value.message.lower()


@pytest.mark.parametrize(
    ("qty", "word"), [("0.0000001", "qty"), ("abc", "decimal"), ("0.0015", "qty")]
)
def test_bad_quantities_are_refused_with_a_message(
    alice: StandXClient, qty: str, word: str
) -> None:
    with pytest.raises(errors.BadRequestError) as info:
        alice.new_order(symbol="BTC-USD", side="buy", order_type="market", qty=qty)
    assert info.value.message


def test_a_signature_by_another_key_is_refused(alice: StandXClient) -> None:
    assert alice.credentials is not None
    forged = StandXClient(
        type(alice.credentials).from_strings(alice.credentials.token, bytes(range(32)).hex()),
        endpoints=alice.endpoints,
        rate_limiter=alice.rate_limiter,
    )
    with pytest.raises(errors.InvalidSignatureError) as refused:
        forged.change_leverage(symbol="BTC-USD", leverage=3)
    assert refused.value.message == "invalid body signature"


def test_a_stale_timestamp_is_signature_expired_and_sync_clock_fixes_it(
    alice: StandXClient,
) -> None:
    alice.clock_offset_ms = -10 * 60 * 1000
    with pytest.raises(errors.SignatureExpiredError):
        alice.change_leverage(symbol="BTC-USD", leverage=3)
    assert alice.sync_clock() == 0
    alice.change_leverage(symbol="BTC-USD", leverage=3)


def test_a_bad_token_is_an_authentication_error(sim_url: str, alice: StandXClient) -> None:
    assert alice.credentials is not None
    token = alice.credentials.token
    head, body, _ = token.split(".")
    tampered = type(alice.credentials)(f"{head}.{body}.AAAA")
    client = StandXClient(tampered, endpoints=alice.endpoints, rate_limiter=alice.rate_limiter)
    with pytest.raises(errors.AuthenticationError):
        client.query_positions()


def test_the_ledger_agrees_with_the_trades_the_client_sees(
    sim_url: str, alice: StandXClient, alice_account: dict[str, Any]
) -> None:
    alice.new_order(symbol="ETH-USD", side="sell", order_type="market", qty="0.05")
    wait_for(lambda: alice.query_positions(symbol="ETH-USD"), timeout=10)
    ledger = sim_control(sim_url, "GET", f"/sim/ledger?address={alice_account['address']}")
    trade_ids = {t.id for t in alice.iter_trades()}
    assert trade_ids
    assert trade_ids <= {int(t["id"]) for t in ledger["trades"]}
