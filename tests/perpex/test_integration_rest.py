"""The REST client against the simulator over HTTP: markets, orders, batches, cancels, trades."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

import pytest

from perpex import errors
from perpex.rest import OrderRequest, PerpExClient, new_client_order_id
from tests.perpex_sim.helpers import SimControl


def market(symbol: str, side: str, quantity: str, **extra: object) -> OrderRequest:
    return OrderRequest(symbol, side, "market", Decimal(quantity), **extra)  # type: ignore[arg-type]


def test_the_markets_list_btc_eth_and_sol_with_ticks_lots_and_max_leverage(
    alice: PerpExClient,
) -> None:
    markets = {m.symbol: m for m in alice.markets()}
    assert {"BTC-USD", "ETH-USD", "SOL-USD"} <= set(markets)
    sol = markets["SOL-USD"]
    assert (sol.tick_size, sol.lot_size, sol.max_leverage) == (
        Decimal("0.01"),
        Decimal("0.01"),
        Decimal(20),
    )
    assert sol.maintenance_margin_rate == Decimal("0.025")
    assert sol.mark_price is not None
    assert sol.settle_asset == "USDC"


def test_the_orderbook_has_both_sides_at_the_asked_depth(alice: PerpExClient) -> None:
    book = alice.orderbook("ETH-USD", depth=5)
    assert (book.symbol, len(book.bids), len(book.asks)) == ("ETH-USD", 5, 5)
    assert book.bids[0].price < book.asks[0].price


def test_an_unknown_symbol_is_invalid_symbol(alice: PerpExClient) -> None:
    with pytest.raises(errors.InvalidSymbolError) as raised:
        alice.orderbook("DOGE-USD")
    assert raised.value.code == "INVALID_SYMBOL"


def test_a_market_order_opens_a_position_with_its_liquidation_price(alice: PerpExClient) -> None:
    client_id = new_client_order_id()
    order = alice.place_order(
        market(
            "SOL-USD", "buy", "10", client_order_id=client_id, leverage=10, margin_mode="isolated"
        )
    )
    assert (order.status, order.client_order_id, order.filled_quantity) == (
        "filled",
        client_id,
        Decimal(10),
    )
    account = alice.account()
    (position,) = account.positions
    assert (position.symbol, position.size, position.margin_mode) == ("SOL-USD", 10, "isolated")
    assert position.liquidation_price is not None
    assert position.liquidation_price < position.entry_price
    assert account.balances[0].asset == "USDC"
    assert account.margin.maintenance_margin == position.maintenance_margin


def test_limit_stop_and_reduce_only_orders_rest_trigger_and_shrink(
    alice: PerpExClient, sim: SimControl
) -> None:
    sim.price("ETH-USD", "3500")  # whatever an earlier test left: the stop must not trigger yet
    alice.place_order(market("ETH-USD", "buy", "1"))
    resting = alice.place_order(
        OrderRequest("ETH-USD", "buy", "limit", Decimal("0.5"), Decimal(3000))
    )
    stop = alice.place_order(
        OrderRequest(
            "ETH-USD", "sell", "stop", Decimal("0.4"), stop_price=Decimal(3400), reduce_only=True
        )
    )
    assert (resting.status, stop.status) == ("open", "untriggered")
    open_orders = alice.open_orders()
    assert open_orders is not None
    assert {o.id for o in open_orders} == {resting.id, stop.id}
    sim.price("ETH-USD", "3390")
    (position,) = alice.account().positions
    assert position.size == Decimal("0.6")
    with pytest.raises(errors.BadRequestError, match="reduce-only order must shrink"):
        alice.place_order(market("ETH-USD", "buy", "0.1", reduce_only=True))
    sim.price("ETH-USD", "3500")


def test_a_batch_answers_each_order_and_a_failure_does_not_stop_the_others(
    alice: PerpExClient,
) -> None:
    results = alice.place_batch(
        [
            market("BTC-USD", "buy", "0.001"),
            market("NOPE-USD", "buy", "1"),
            market("SOL-USD", "buy", "10000"),
            OrderRequest("ETH-USD", "buy", "limit", Decimal("0.01"), Decimal(3000)),
        ]
    )
    assert [r.ok for r in results] == [True, False, False, True]
    assert [r.error_code for r in results] == [None, "INVALID_SYMBOL", "INSUFFICIENT_MARGIN", None]
    assert isinstance(results[2].error(), errors.InsufficientMarginError)
    assert results[0].order is not None
    assert results[0].order.status == "filled"


def test_a_batch_of_more_than_ten_is_refused_before_it_is_sent(
    alice: PerpExClient, sim: SimControl
) -> None:
    with pytest.raises(ValueError, match="1 to 10 orders, not 11"):
        alice.place_batch([market("BTC-USD", "buy", "0.001")] * 11)
    assert alice.account().positions == ()
    key = alice.api_key.token if alice.api_key else ""
    raw = sim.api("POST", "/api/v1/orders/batch", key, json={"orders": [{}] * 11})
    assert (raw.status_code, raw.json()["error"]["code"]) == (400, "BATCH_TOO_LARGE")


def test_cancelling_an_unknown_order_is_order_not_found_and_a_known_one_cancels(
    alice: PerpExClient,
) -> None:
    with pytest.raises(errors.OrderNotFoundError) as raised:
        alice.cancel_order("999999999")
    assert (raised.value.status, raised.value.code) == (404, "ORDER_NOT_FOUND")
    resting = alice.place_order(
        OrderRequest("BTC-USD", "buy", "limit", Decimal("0.001"), Decimal(90000))
    )
    cancelled = alice.cancel_order(resting.id)
    assert cancelled is not None
    assert cancelled.status == "canceled"
    with pytest.raises(errors.OrderNotFoundError):
        alice.cancel_order(resting.id)


def test_an_order_beyond_the_free_margin_is_insufficient_margin(alice: PerpExClient) -> None:
    with pytest.raises(errors.InsufficientMarginError, match="of margin"):
        alice.place_order(market("BTC-USD", "buy", "5", leverage=2))


def test_a_read_only_key_reads_but_may_not_trade(
    sim: SimControl, client_for: Callable[..., PerpExClient]
) -> None:
    bob = client_for(sim.account(permissions=["read"]))
    assert bob.account().balances[0].total == Decimal(10000)
    assert bob.api_key is not None
    assert bob.api_key.can_trade() is False
    with pytest.raises(errors.ForbiddenError):
        bob.cancel_order("no-such-order")


def test_the_trades_pages_are_followed_to_the_end_newest_first(alice: PerpExClient) -> None:
    for _ in range(3):
        alice.place_batch([market("BTC-USD", "buy", "0.001")] * 10)
    first = alice.trades(limit=7)
    assert len(first.fills) == 7
    assert first.next_cursor is not None
    fills = list(alice.iter_trades(page_size=7))
    assert len(fills) == 30
    assert len({f.id for f in fills}) == 30
    assert [f.time for f in fills] == sorted((f.time for f in fills), reverse=True)
    assert all(f.fee > 0 and f.liquidity == "taker" for f in fills)


def test_a_read_that_meets_429_waits_its_retry_after_and_succeeds(
    sim: SimControl, client_for: Callable[..., PerpExClient]
) -> None:
    sim.config(requests_per_minute=60)  # one a second once the burst is spent
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    bob = client_for(sim.account(), sleep=sleep)
    for _ in range(60):
        bob.account()
    assert bob.account().balances
    assert slept
    assert slept[0] >= 1


def test_an_order_that_meets_429_is_not_repeated(
    sim: SimControl, client_for: Callable[..., PerpExClient]
) -> None:
    sim.config(requests_per_minute=1)
    bob = client_for(sim.account())
    bob.account()
    with pytest.raises(errors.RateLimitedError) as raised:
        bob.place_order(market("BTC-USD", "buy", "0.001"))
    assert raised.value.retry_after is not None
    assert raised.value.retry_after >= 1
    assert raised.value.transient
