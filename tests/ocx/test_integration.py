"""The client against the simulator over real HTTP: sign-in, keys, trading, the wallet."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from ocx import errors
from ocx.auth import ApiKey, Session
from ocx.ratelimit import NoRateLimit
from ocx.rest import OCXClient
from tests.ocx.conftest import sim_account, sim_control


def _mark(client: OCXClient, market_id: str) -> Decimal:
    (market,) = [m for m in client.markets() if m.id == market_id]
    assert market.mark_price is not None
    return market.mark_price


def test_it_signs_in_with_ethereum_end_to_end(
    alice: OCXClient, alice_wallet: dict[str, Any]
) -> None:
    session = alice.session
    assert session is not None
    assert session.wallet_address == alice_wallet["wallet_address"]
    assert session.user_id == alice_wallet["user_id"]
    assert session.expires_at is not None
    days = (session.expires_at - session.expires_at.now(session.expires_at.tzinfo)).days
    assert days in (6, 7)
    me = alice.me()
    assert me is not None
    assert me.user_id == alice_wallet["user_id"]


def test_it_rejects_an_expired_session_without_sending_it(
    quiet_sim: str, alice_wallet: dict[str, Any]
) -> None:
    expired = sim_control(
        quiet_sim,
        "POST",
        "/sim/session",
        {"address": alice_wallet["wallet_address"], "expires_seconds": -60},
    )
    client = OCXClient(quiet_sim, session=Session(expired["session"]), limiter=NoRateLimit())
    with pytest.raises(errors.AuthExpiredError) as caught:
        client.positions()
    assert caught.value.code == "SESSION_EXPIRED"
    assert expired["session"] not in repr(caught.value) + str(caught.value)


def test_an_expired_session_refused_by_ocx_is_auth_expired(
    quiet_sim: str, alice_wallet: dict[str, Any]
) -> None:
    expired = sim_control(
        quiet_sim,
        "POST",
        "/sim/session",
        {"address": alice_wallet["wallet_address"], "expires_seconds": -60},
    )
    # A client whose clock is behind OCX's sends it anyway: OCX's 401 says the same thing.
    client = OCXClient(
        quiet_sim,
        session=Session(expired["session"]),
        limiter=NoRateLimit(),
        clock=lambda: datetime(2000, 1, 1, tzinfo=UTC),
    )
    with pytest.raises(errors.AuthExpiredError) as caught:
        client.wallet_balance()
    assert caught.value.code == "SESSION_EXPIRED"


def test_it_mints_lists_and_revokes_keys_and_a_read_key_cannot_trade(
    alice: OCXClient, quiet_sim: str
) -> None:
    created = alice.create_api_key("monitor", "read", expires_in_days=30)
    assert created.secret.startswith("ocx_sk_")
    assert created.secret not in repr(created)
    assert created.key.id in {k.id for k in alice.list_api_keys()}
    reader = OCXClient(quiet_sim, api_key=ApiKey(created.secret), limiter=NoRateLimit())
    assert reader.positions() == []
    with pytest.raises(errors.ForbiddenError) as refused:
        reader.cancel_all()
    assert refused.value.code == "INSUFFICIENT_SCOPE"
    with pytest.raises(errors.AuthExpiredError):
        reader.place_order("BTC-PERP", "buy", "0.01", order_type="market")
    alice.revoke_api_key(created.key.id)
    with pytest.raises(errors.AuthExpiredError):
        reader.positions()


def test_it_previews_places_cancels_and_closes(alice: OCXClient) -> None:
    preview = alice.preview_order("BTC-PERP", "buy", "0.05", order_type="market")
    assert preview.approved
    assert preview.fee_role == "taker"
    assert preview.est_fee == (preview.notional * preview.fee_bps / 10000).quantize(
        Decimal("1e-6"), ROUND_HALF_UP
    )
    placed = alice.place_order(
        "BTC-PERP", "buy", "0.05", order_type="market", client_order_id="alice-open-1"
    )
    assert placed.order.status == "filled"
    assert len(placed.fills) == 1
    assert placed.position is not None
    assert placed.position.size == Decimal("0.05")
    assert placed.position.liquidation_price is None or placed.position.liquidation_price > 0
    low = (_mark(alice, "BTC-PERP") * Decimal("0.9")).quantize(Decimal("0.1"))
    resting = alice.place_order("BTC-PERP", "buy", "0.01", price=low, time_in_force="gtc")
    assert resting.order.is_open
    assert [o.id for o in alice.open_orders()] == [resting.order.id]
    assert alice.cancel_order(resting.order.id).status == "canceled"
    closed = alice.close_position("BTC-PERP")
    assert closed.order.reduce_only
    assert alice.positions() == []
    with pytest.raises(errors.NotFoundError):
        alice.close_position("BTC-PERP")


def test_a_repeated_client_order_id_is_already_applied_and_a_rejection_has_its_code(
    alice: OCXClient,
) -> None:
    alice.place_order("ETH-PERP", "sell", "0.1", order_type="market", client_order_id="dup-1")
    with pytest.raises(errors.DuplicateOrderError) as duplicate:
        alice.place_order("ETH-PERP", "sell", "0.1", order_type="market", client_order_id="dup-1")
    assert duplicate.value.code == "DUPLICATE_CLIENT_ORDER_ID"
    with pytest.raises(errors.RejectedError) as rejected:
        alice.place_order("ETH-PERP", "buy", "1000", order_type="market")
    assert rejected.value.code == "INSUFFICIENT_MARGIN"
    assert "available" in rejected.value.message


def test_scoped_cancel_all_works_with_the_trade_key_after_the_session_is_gone(
    alice: OCXClient,
) -> None:
    low = (_mark(alice, "SOL-PERP") * Decimal("0.8")).quantize(Decimal("0.001"))
    for _ in range(2):
        alice.place_order("SOL-PERP", "buy", "1", price=low)
    btc_low = (_mark(alice, "BTC-PERP") * Decimal("0.8")).quantize(Decimal("0.1"))
    alice.place_order("BTC-PERP", "buy", "0.01", price=btc_low)
    alice.session = None
    assert alice.cancel_all(market_id="SOL-PERP").canceled == 2
    assert [o.market_id for o in alice.open_orders()] == ["BTC-PERP"]
    assert alice.cancel_all().canceled == 1


def test_fills_page_newest_first_without_gaps_or_repeats(alice: OCXClient) -> None:
    for i in range(7):
        alice.place_order("SOL-PERP", "buy" if i % 2 else "sell", "1", order_type="market")
    first = alice.fills(limit=3)
    assert len(first) == 3
    assert [f.id for f in first] == sorted((f.id for f in first), reverse=True)
    every = list(alice.iter_fills(page_size=3))
    assert len(every) == 7
    assert len({f.id for f in every}) == 7
    assert [f.id for f in every[:3]] == [f.id for f in first]


def test_bucket_transfers_balance_against_the_ledger(
    alice: OCXClient, quiet_sim: str, alice_wallet: dict[str, Any]
) -> None:
    after = alice.transfer("wallet", "options", "250.5")
    assert after.balances["wallet"] == Decimal("4749.5")
    assert after.balances["options"] == Decimal("250.5")
    alice.transfer("perps", "wallet", Decimal("100"))
    with pytest.raises(errors.BadRequestError):
        alice.transfer("spot", "wallet", "1")
    wallet = alice.wallet_balance()
    assets = {a.bucket: a.total for a in alice.wallet_assets()}
    ledger = sim_control(quiet_sim, "GET", f"/sim/ledger?address={alice_wallet['wallet_address']}")
    assert {b: Decimal(v) for b, v in ledger["ledgerBuckets"].items()} == assets
    assert wallet.wallet_balance == assets["wallet"] == Decimal("4849.5")
    history = alice.wallet_history()
    transfers = [e for e in history if e.type == "transfer"]
    assert sum(e.amount for e in transfers) == 0  # each move is two equal and opposite legs


def test_ledger_equals_the_client_view_after_random_activity_with_faults(
    quiet_sim: str,
) -> None:
    wallet = sim_account(quiet_sim, deposit="20000", perps="10000")
    client = OCXClient(quiet_sim, limiter=NoRateLimit(), max_retries=6, sleep=lambda s: None)
    client.sign_in_with_wallet_key(wallet["wallet_private_key"])
    sim_control(
        quiet_sim,
        "POST",
        "/sim/faults",
        {"endpoint": "*", "error_rate": 0.2, "lost_reply_rate": 0.1, "status": 503},
    )
    rng = random.Random(7)
    applied = 0
    for i in range(40):
        action = rng.choice(["order", "order", "transfer", "cancel_all", "close"])
        try:
            if action == "order":
                market = rng.choice(["BTC-PERP", "ETH-PERP", "SOL-PERP"])
                qty = {"BTC-PERP": "0.01", "ETH-PERP": "0.2", "SOL-PERP": "2"}[market]
                client.place_order(
                    market,
                    rng.choice(["buy", "sell"]),
                    qty,
                    order_type="market",
                    client_order_id=f"r-{i}",
                )
            elif action == "transfer":
                source, destination = rng.sample(["wallet", "perps"], 2)
                client.transfer(source, destination, "10")
            elif action == "cancel_all":
                client.cancel_all()
            else:
                client.close_position(rng.choice(["BTC-PERP", "ETH-PERP", "SOL-PERP"]))
            applied += 1
        except (
            errors.ServerError,
            errors.NotFoundError,
            errors.RejectedError,
            errors.BadRequestError,
        ):
            continue  # a lost reply is reconciled below from what OCX reports
    sim_control(quiet_sim, "DELETE", "/sim/faults")
    assert applied > 10
    ledger = sim_control(quiet_sim, "GET", f"/sim/ledger?address={wallet['wallet_address']}")
    assert ledger["buckets"] == ledger["ledgerBuckets"]
    assets = {a.bucket: a.total for a in client.wallet_assets()}
    assert {b: Decimal(v) for b, v in ledger["ledgerBuckets"].items()} == assets
    fills = list(client.iter_fills(page_size=7))
    assert {f.id for f in fills} == {f["id"] for f in ledger["fills"]}
    fees = sum((f.fee or Decimal(0) for f in fills), Decimal(0))
    pnl = sum((f.realized_pnl or Decimal(0) for f in fills), Decimal(0))
    perps_flows = sum(
        Decimal(leg["amount"])
        for p in ledger["postings"]
        for leg in p["legs"]
        if leg["account"].endswith(":perps") and p["kind"] in ("fee", "realized_pnl")
    )
    assert perps_flows == pnl - fees
    assert sim_control(quiet_sim, "GET", "/sim/ledger")["total"] == "0"
    assert ledger["withdrawFlagged"] is False
