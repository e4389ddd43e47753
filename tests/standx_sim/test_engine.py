"""Engine rules: validation, matching, TP/SL, margin changes, funding, liquidation, determinism."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from standx_sim import views
from standx_sim.engine import Account, Engine
from standx_sim.errors import ApiError
from standx_sim.scenarios import start_demo
from standx_sim.state import Sim

D = Decimal


def engine_with_account(deposit: str = "10000") -> tuple[Engine, Account]:
    engine = Engine(seed=7)
    engine.paused = True
    for symbol, price in (("BTC-USD", "100000"), ("ETH-USD", "3500"), ("SOL-USD", "180")):
        engine.set_price(symbol, D(price))
    account = engine.ensure_account("bsc", "0x" + "ab" * 20, "bsc_0x" + "ab" * 20)
    engine.deposit(account, D(deposit))
    return engine, account


def order(**fields: Any) -> dict[str, Any]:
    base = {
        "symbol": "BTC-USD",
        "side": "buy",
        "order_type": "market",
        "qty": "0.01",
        "time_in_force": "ioc",
        "reduce_only": False,
    }
    base.update(fields)
    return base


def rejects(engine: Engine, account: Account, params: dict[str, Any], text: str) -> None:
    with pytest.raises(ApiError) as caught:
        engine.place_order(account.user, params)
    assert caught.value.status == 400
    assert text in caught.value.message


class TestValidation:
    def test_it_rejects_an_unknown_symbol(self) -> None:
        engine, account = engine_with_account()
        rejects(engine, account, order(symbol="DOGE-USD"), "unknown symbol")

    def test_it_rejects_a_bad_decimal_and_floats(self) -> None:
        engine, account = engine_with_account()
        rejects(engine, account, order(qty="0.0x1"), "not a valid decimal")
        rejects(engine, account, order(qty=0.01), "decimal string")

    def test_it_rejects_qty_below_min_or_off_tick(self) -> None:
        engine, account = engine_with_account()
        rejects(engine, account, order(qty="0.0001"), "below the minimum")
        rejects(engine, account, order(qty="0.0015"), "not a multiple of the qty tick")

    def test_it_rejects_a_price_off_tick_or_outside_the_band(self) -> None:
        engine, account = engine_with_account()
        limit = {"order_type": "limit", "time_in_force": "gtc"}
        rejects(
            engine, account, order(price="99000.005", **limit), "not a multiple of the price tick"
        )
        rejects(engine, account, order(price="200000", **limit), "outside the allowed band")
        rejects(engine, account, order(**limit), "price is required")

    def test_it_rejects_leverage_above_max(self) -> None:
        engine, account = engine_with_account()
        rejects(engine, account, order(leverage=21), "exceeds the max leverage 20")
        with pytest.raises(ApiError) as caught:
            engine.change_leverage(account.user, {"symbol": "BTC-USD", "leverage": 50})
        assert caught.value.status == 400

    def test_it_rejects_an_order_the_balance_cannot_margin(self) -> None:
        engine, account = engine_with_account("100")
        rejects(engine, account, order(qty="1"), "insufficient available balance")

    def test_an_unfunded_wallet_has_no_balance(self) -> None:
        engine = Engine(seed=7)
        account = engine.ensure_account("bsc", "0x" + "cd" * 20, "bsc_0x" + "cd" * 20)
        with pytest.raises(ApiError) as caught:
            views.balance_view(engine, account)
        assert caught.value.status == 404
        assert caught.value.message == "user balance not found"


class TestMatching:
    def test_a_market_order_fills_as_taker_with_fees_and_opens_a_position(self) -> None:
        engine, account = engine_with_account()
        result = engine.place_order(account.user, order(qty="0.05"))
        view = views.order_view(result.order)
        assert view["status"] == "filled"
        assert view["fill_qty"] == "0.050"
        trade = account.trades[0]
        assert D(trade["fee_qty"]) == D(trade["value"]) * D("0.0004")
        position = views.positions_view(engine, account, "BTC-USD")[0]
        assert position["qty"] == "0.050"
        assert position["margin_mode"] == "cross"

    def test_a_large_ioc_order_fills_partially_and_cancels_the_rest(self) -> None:
        engine, account = engine_with_account("100000000")
        book_depth = sum(level.qty for level in engine.markets["BTC-USD"].asks)
        result = engine.place_order(account.user, order(qty="99", leverage=1))
        assert result.order.fill_qty == book_depth
        assert result.order.status == "canceled"
        assert len({t["price"] for t in account.trades}) > 1

    def test_an_alo_that_would_take_is_rejected_by_matching(self) -> None:
        engine, account = engine_with_account()
        ask = engine.markets["BTC-USD"].best_ask()
        result = engine.place_order(
            account.user, order(order_type="limit", time_in_force="alo", price=str(ask))
        )
        assert result.rejected == "alo order rejected"
        assert result.order.status == "rejected"

    def test_a_resting_limit_fills_as_maker_when_the_mark_crosses_it(self) -> None:
        engine, account = engine_with_account()
        result = engine.place_order(
            account.user, order(order_type="limit", time_in_force="gtc", price="99000")
        )
        assert result.order.status == "open"
        assert engine.balance(account)["locked"] > 0
        engine.set_price("BTC-USD", D("99500"))
        assert result.order.status == "open"
        engine.set_price("BTC-USD", D("98999"))
        assert result.order.status == "filled"
        assert account.trades[-1]["price"] == "99000"
        assert D(account.trades[-1]["fee_qty"]) == D("99000") * D("0.01") * D("0.0001")
        assert engine.balance(account)["locked"] == 0

    def test_closing_books_gross_pnl_on_the_trade(self) -> None:
        engine, account = engine_with_account()
        engine.place_order(account.user, order(qty="0.1"))
        entry = account.positions["BTC-USD"].entry_value
        engine.set_price("BTC-USD", D("101000"))
        engine.place_order(account.user, order(side="sell", qty="0.1", reduce_only=True))
        close = account.trades[-1]
        assert D(close["pnl"]) == D(close["value"]) - entry
        assert account.positions["BTC-USD"].qty == 0
        assert views.positions_view(engine, account, None)[0]["status"] == "closed"


class TestReduceOnlyAndTpSl:
    def test_reduce_only_room_is_position_minus_pending_reduce_only(self) -> None:
        engine, account = engine_with_account()
        engine.place_order(account.user, order(qty="0.1"))
        rejects(
            engine, account, order(side="buy", qty="0.01", reduce_only=True), "would not reduce"
        )
        limit = {"order_type": "limit", "time_in_force": "gtc", "reduce_only": True}
        engine.place_order(account.user, order(side="sell", qty="0.06", price="101000", **limit))
        rejects(engine, account, order(side="sell", qty="0.05", price="101000", **limit), "exceeds")
        engine.place_order(account.user, order(side="sell", qty="0.04", price="101000", **limit))

    def test_tp_and_sl_children_wait_untriggered_then_one_fires_and_cancels_the_other(self) -> None:
        engine, account = engine_with_account()
        parent = engine.place_order(
            account.user, order(qty="0.1", tp_price="105000", sl_price="95000")
        ).order
        children = [account.orders[i] for i in parent.children]
        assert [c.status for c in children] == ["untriggered", "untriggered"]
        assert all(c.reduce_only and c.side == "sell" and c.qty == D("0.1") for c in children)
        rejects(engine, account, order(side="sell", qty="0.001", reduce_only=True), "exceeds")
        engine.set_price("BTC-USD", D("104000"))
        assert children[0].status == "untriggered"
        engine.set_price("BTC-USD", D("105500"))
        assert children[0].status == "filled"
        assert children[1].status == "canceled"
        assert account.positions["BTC-USD"].qty == 0


class TestMarginChanges:
    def test_margin_mode_change_is_refused_with_an_open_position(self) -> None:
        engine, account = engine_with_account()
        engine.change_margin_mode(account.user, {"symbol": "ETH-USD", "margin_mode": "isolated"})
        engine.place_order(account.user, order(qty="0.01"))
        with pytest.raises(ApiError) as caught:
            engine.change_margin_mode(
                account.user, {"symbol": "BTC-USD", "margin_mode": "isolated"}
            )
        assert "open position" in caught.value.message

    def test_transfer_margin_moves_wallet_money_into_an_isolated_position_only(self) -> None:
        engine, account = engine_with_account()
        with pytest.raises(ApiError):
            engine.transfer_margin(account.user, {"symbol": "BTC-USD", "amount_in": "10"})
        engine.place_order(account.user, order(qty="0.01", margin_mode="isolated"))
        position = account.positions["BTC-USD"]
        before_liq = views.position_view(engine, account, position)["liq_price"]
        held = position.holding_margin
        engine.transfer_margin(account.user, {"symbol": "BTC-USD", "amount_in": "50"})
        assert position.holding_margin == held + 50
        assert D(views.position_view(engine, account, position)["liq_price"]) < D(before_liq)
        with pytest.raises(ApiError):
            engine.transfer_margin(account.user, {"symbol": "BTC-USD", "amount_in": "-60"})
        engine.transfer_margin(account.user, {"symbol": "BTC-USD", "amount_in": "-50"})
        assert position.holding_margin == held

    def test_raising_leverage_is_allowed_and_lowering_needs_margin(self) -> None:
        engine, account = engine_with_account("1000")
        engine.place_order(account.user, order(qty="0.01", margin_mode="isolated", leverage=10))
        engine.change_leverage(account.user, {"symbol": "BTC-USD", "leverage": 20})
        with pytest.raises(ApiError):
            engine.change_leverage(account.user, {"symbol": "BTC-USD", "leverage": 2})


class TestFundingAndLiquidation:
    def test_funding_charges_longs_and_pays_shorts_at_a_positive_rate(self) -> None:
        engine, account = engine_with_account()
        other = engine.ensure_account("bsc", "0x" + "ef" * 20, "bsc_0x" + "ef" * 20)
        engine.deposit(other, D(10000))
        engine.place_order(account.user, order(qty="0.1"))
        engine.place_order(other.user, order(side="sell", qty="0.1"))
        long_before, short_before = account.cross_balance, other.cross_balance
        engine.settle_funding("BTC-USD", D("0.0001"))
        notional = D("0.1") * engine.markets["BTC-USD"].mark
        assert account.cross_balance - long_before == -(notional * D("0.0001"))
        assert other.cross_balance - short_before == notional * D("0.0001")
        assert account.funding[-1]["txn_type"] == "funding"

    def test_isolated_funding_moves_the_holding_margin(self) -> None:
        engine, account = engine_with_account()
        engine.place_order(account.user, order(qty="0.1", margin_mode="isolated"))
        held = account.positions["BTC-USD"].holding_margin
        engine.settle_funding("BTC-USD", D("0.001"))
        assert account.positions["BTC-USD"].holding_margin < held

    def test_an_isolated_position_is_liquidated_when_health_reaches_one(self) -> None:
        engine, account = engine_with_account()
        engine.place_order(account.user, order(qty="0.1", margin_mode="isolated", leverage=20))
        position = account.positions["BTC-USD"]
        liq = D(views.position_view(engine, account, position)["liq_price"])
        engine.set_price("BTC-USD", liq + 20)
        assert position.qty == D("0.1")
        engine.set_price("BTC-USD", liq - D("0.01"))
        assert position.qty == 0
        liquidation = list(account.orders.values())[-1]
        assert liquidation.liq_id > 0
        assert liquidation.source == "liquidation"
        assert liquidation.status == "filled"
        # An isolated loss never reaches past the position's margin.
        assert account.cross_balance > D(10000) - D(600)

    def test_the_cross_bucket_is_liquidated_together(self) -> None:
        engine, account = engine_with_account("600")
        engine.place_order(account.user, order(qty="0.1", leverage=20))
        engine.place_order(
            account.user, order(symbol="ETH-USD", side="sell", qty="0.1", leverage=20)
        )
        btc = account.positions["BTC-USD"]
        liq = D(views.position_view(engine, account, btc)["liq_price"])
        engine.set_price("BTC-USD", liq - 1)
        assert btc.qty == 0
        assert account.positions["ETH-USD"].qty == 0
        assert all(o.liq_id > 0 for o in account.orders.values() if o.source == "liquidation")
        assert account.cross_balance >= 0


def test_the_ledger_reconciles_to_the_balance() -> None:
    engine, account = engine_with_account()
    engine.place_order(account.user, order(qty="0.1", margin_mode="isolated"))
    engine.set_price("BTC-USD", D("100700"))
    engine.settle_funding("BTC-USD", D("0.0002"))
    engine.place_order(account.user, order(side="sell", qty="0.04", reduce_only=True))
    ledger = views.ledger(engine, account)
    total = sum(D(change["amount"]) for change in ledger["balance_changes"])
    assert total == D(ledger["balance"]["balance"])
    kinds = {change["kind"] for change in ledger["balance_changes"]}
    assert {"deposit", "fee", "realized_pnl", "funding", "isolated_margin"} <= kinds


def test_prices_are_deterministic_for_a_seed() -> None:
    def walk(seed: int) -> list[Decimal]:
        engine = Engine(seed=seed)
        marks = []
        for _ in range(20):
            engine.tick()
            marks.append(engine.markets["BTC-USD"].mark)
        return marks

    assert walk(3) == walk(3)
    assert walk(3) != walk(4)


def test_the_demo_drifts_its_sol_position_toward_liquidation() -> None:
    sim = Sim.create(seed=1, backfill_minutes=0)
    creds = start_demo(sim)
    engine = sim.engine
    account = engine.accounts[creds["user"]]
    held = {p["symbol"]: p for p in views.positions_view(engine, account, None)}
    assert set(held) == {"BTC-USD", "ETH-USD", "SOL-USD"}
    assert D(held["ETH-USD"]["qty"]) < 0
    assert held["SOL-USD"]["margin_mode"] == "isolated"
    engine.paused = True
    market = engine.markets["SOL-USD"]
    assert market.scenario is not None
    market.step(market.scenario.started + 120, paused=True)
    engine.after_price_change()
    sol = views.position_view(engine, account, account.positions["SOL-USD"])
    assert sol["status"] == "open"
    assert D("1.2") < D(sol["mmr"]) < D("1.5")
    assert (D(sol["mark_price"]) - D(sol["liq_price"])) / D(sol["mark_price"]) < D("0.025")
