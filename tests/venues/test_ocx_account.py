"""The OCX adapter's account side against the simulator over HTTP: the read equals the
simulator's books, cursors and digests keep a quiet account cheap, writes take the credential
they need (and are refused in words without it), and pasted keys link with their scopes."""

from __future__ import annotations

import uuid
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx
import pytest

from exchange_common.ratelimit import CountingLimiter, NoRateLimit
from tests.ocx.conftest import quiet_sim, sim_account, sim_control
from venues import errors, ocx_account, ocx_common, registry
from venues import ocx as ocx_venue
from venues.account import AccountRead, OrderRequest, Placed, ReadPlan
from venues.base import AccountAdapter

__all__ = ["quiet_sim"]
ADAPTER = registry.account_adapter("ocx")
FIRST_READ = ReadPlan(
    full_due=True,
    idle=False,
    balance_digest="",
    activity_digest="",
    shape_digest="",
    order_cursor="",
    fill_cursor="",
)


def secrets_of(
    wallet: dict[str, Any], *, session: bool = True, read: bool = True, trade: bool = True
) -> dict[str, str]:
    chosen = {
        ocx_account.SESSION_KIND: wallet["session"] if session else "",
        ocx_account.READ_KEY_KIND: wallet["read_api_key"] if read else "",
        ocx_account.TRADE_KEY_KIND: wallet["api_key"] if trade else "",
    }
    return {kind: secret for kind, secret in chosen.items() if secret}


def account(
    url: str, secrets: dict[str, str], limiter: CountingLimiter | None = None
) -> ocx_account.OCXAccountSession:
    session = ADAPTER.account(ocx_venue.endpoints_for_simulator(url), secrets, limiter=limiter)
    assert isinstance(session, ocx_account.OCXAccountSession)
    return session


def plan_after(
    read: AccountRead, *, full_due: bool = False, held: tuple[str, ...] = ()
) -> ReadPlan:
    """The plan the sync makes from the stored result of ``read``."""
    return ReadPlan(
        full_due=full_due,
        idle=not read.positions and not read.open_orders,
        balance_digest=read.balance_digest,
        activity_digest=read.activity_digest,
        shape_digest=read.shape_digest,
        order_cursor=read.order_cursor,
        fill_cursor=read.fill_cursor,
        held_open_orders=lambda: held,
    )


def markets(url: str) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in httpx.get(f"{url}/perps/markets").json()}


def the_future(url: str) -> str:
    (future,) = [i for i, m in markets(url).items() if m["marketType"] != "perp"]
    return future


def below_the_mark(url: str, symbol: str, fraction: str = "0.8") -> Decimal:
    market = markets(url)[symbol]
    tick = Decimal(1).scaleb(-int(market["priceDecimals"]))
    return (Decimal(market["markPrice"]) * Decimal(fraction)).quantize(tick, ROUND_DOWN)


def buy(symbol: str, qty: str, *, price: Decimal | None = None, cid: str = "") -> OrderRequest:
    return OrderRequest(
        symbol=symbol,
        side="buy",
        order_type="limit" if price is not None else "market",
        qty=Decimal(qty),
        client_order_id=cid or f"t-{uuid.uuid4().hex[:12]}",
        price=price,
        time_in_force="gtc" if price is not None else "ioc",
    )


def ledger(url: str, wallet: dict[str, Any]) -> dict[str, Any]:
    return dict(sim_control(url, "GET", f"/sim/ledger?address={wallet['wallet_address']}"))


def as_key(url: str, wallet: dict[str, Any], path: str) -> Any:
    response = httpx.get(f"{url}{path}", headers={"x-api-key": wallet["read_api_key"]})
    response.raise_for_status()
    return response.json()


@pytest.fixture
def alice(quiet_sim: str) -> dict[str, Any]:
    return sim_account(quiet_sim)


@pytest.fixture
def bob(quiet_sim: str) -> dict[str, Any]:
    return sim_account(quiet_sim, deposit="2000", perps="500")


def test_ocx_is_an_account_adapter_linked_by_pasting_keys() -> None:
    assert isinstance(ADAPTER, AccountAdapter)
    assert [(f.name, f.secret, f.required) for f in ocx_venue.ADAPTER.link_fields] == [
        ("read_key", True, True),
        ("read_key_id", False, False),
        ("trade_key", True, False),
        ("trade_key_id", False, False),
    ]
    assert ADAPTER.planned_requests(full_due=False, idle=True) == 1
    assert ADAPTER.planned_requests(full_due=False, idle=False) == 4
    assert ADAPTER.planned_requests(full_due=True, idle=True) == 6


def test_a_read_equals_the_simulators_books_for_a_perp_and_a_future(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    future = the_future(quiet_sim)
    resting_price = below_the_mark(quiet_sim, "ETH-PERP")
    with account(quiet_sim, secrets_of(alice)) as session:
        # Together more than the perps bucket holds: OCX gives the group a liquidation price.
        assert session.place(buy("BTC-PERP", "0.05")).accepted
        assert session.place(buy(future, "0.05")).accepted
        resting = session.place(buy("ETH-PERP", "0.1", price=resting_price))
        read = session.read(FIRST_READ)
    books = ledger(quiet_sim, alice)

    held = {p["marketId"]: p for p in books["positions"] if p["status"] == "open"}
    assert {p.symbol: p.qty for p in read.positions} == {
        "BTC-PERP": Decimal("0.05"),
        future: Decimal("0.05"),
    }
    reported = {p["marketId"]: p for p in as_key(quiet_sim, alice, "/perps/positions")}
    for p in read.positions:
        assert p.entry_price == Decimal(held[p.symbol]["entryPrice"])
        assert p.exchange_id == held[p.symbol]["id"]
        assert p.margin_mode == "portfolio"
        assert (p.liq_source, p.maint_margin) == ("reported", None)
        assert p.liq_price is not None
        assert p.liq_price == Decimal(reported[p.symbol]["liquidationPrice"])
        assert p.upnl == Decimal(reported[p.symbol]["unrealizedPnl"])

    assert [o.exchange_id for o in read.open_orders] == [resting.request_id]
    assert {o.exchange_id for o in read.new_orders} == {o["id"] for o in books["orders"]}
    assert {f.exchange_id for f in read.new_fills} == {f["id"] for f in books["fills"]}
    assert sum(f.fee for f in read.new_fills) == sum(Decimal(f["fee"]) for f in books["fills"])

    totals = {b.bucket: b.total for b in read.buckets}
    assert totals == {name: Decimal(v) for name, v in books["buckets"].items()}
    portfolio = as_key(quiet_sim, alice, "/portfolio/balances")
    assert sum(totals.values()) == sum(Decimal(v) for v in portfolio["buckets"].values())
    assert read.balance.cash == sum(totals.values())
    assert read.balance.equity == Decimal(portfolio["totalEquity"])
    perps = as_key(quiet_sim, alice, "/perps/balances")
    assert read.balance.maint_margin == Decimal(perps["maintenanceMargin"])
    assert read.balance.margin_used == Decimal(perps["initialMargin"])
    assert read.balance.cross_balance == Decimal(perps["balance"])
    assert read.order_cursor == max(o["id"] for o in books["orders"])
    assert read.fill_cursor == max(f["id"] for f in books["fills"])


def test_cursors_advance_and_a_read_without_activity_skips_the_history(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    with account(quiet_sim, secrets_of(alice)) as session:
        session.place(buy("BTC-PERP", "0.01"))
        first = session.read(FIRST_READ)

    counter = CountingLimiter(NoRateLimit())
    with account(quiet_sim, secrets_of(alice), counter) as session:
        again = session.read(plan_after(first))
    assert (again.full, again.quiet, counter.granted) == (False, False, 4)
    assert (again.new_orders, again.new_fills) == ([], [])
    assert (again.order_cursor, again.fill_cursor) == (first.order_cursor, first.fill_cursor)
    assert again.shape_digest == first.shape_digest

    with account(quiet_sim, secrets_of(alice)) as session:
        more = session.place(buy("SOL-PERP", "1"))
        after = session.read(plan_after(again))
    assert after.full
    assert [o.exchange_id for o in after.new_orders] == [more.request_id]
    (new_fill,) = after.new_fills
    assert new_fill.order_exchange_id == more.request_id
    assert after.order_cursor == more.request_id > first.order_cursor
    assert after.fill_cursor == new_fill.exchange_id > first.fill_cursor


def test_an_idle_account_costs_one_call_until_its_buckets_move(
    quiet_sim: str, bob: dict[str, Any]
) -> None:
    with account(quiet_sim, secrets_of(bob)) as session:
        first = session.read(FIRST_READ)
    assert (first.positions, first.open_orders) == ([], [])

    counter = CountingLimiter(NoRateLimit())
    with account(quiet_sim, secrets_of(bob), counter) as session:
        quiet = session.read(plan_after(first))
    assert (quiet.quiet, quiet.full, counter.granted) == (True, False, 1)
    assert quiet.balance == first.balance
    assert quiet.buckets == first.buckets

    resting_price = below_the_mark(quiet_sim, "BTC-PERP")
    with account(quiet_sim, secrets_of(bob)) as session:
        session.place(buy("BTC-PERP", "0.001", price=resting_price))
        woken = session.read(plan_after(quiet))
    assert not woken.quiet
    assert woken.full
    assert len(woken.open_orders) == len(woken.new_orders) == 1


def test_an_order_that_ended_since_the_last_read_is_refreshed(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    price = below_the_mark(quiet_sim, "BTC-PERP")
    with account(quiet_sim, secrets_of(alice)) as session:
        resting = session.place(buy("BTC-PERP", "0.001", price=price))
        session.place(buy("ETH-PERP", "0.1"))  # newer, so the resting order is behind the cursor
        first = session.read(FIRST_READ)
        session.cancel(resting.request_id)
        later = session.read(plan_after(first, held=(resting.request_id,)))
    assert later.new_orders == []
    (refreshed,) = later.refreshed_orders
    assert (refreshed.exchange_id, refreshed.status) == (resting.request_id, "canceled")


def test_place_look_up_and_cancel_round_trip(quiet_sim: str, alice: dict[str, Any]) -> None:
    price = below_the_mark(quiet_sim, "BTC-PERP")
    with account(quiet_sim, secrets_of(alice)) as session:
        placed = session.place(buy("BTC-PERP", "0.001", price=price, cid="alice-rest-1"))
        assert (placed.accepted, placed.reason) == (True, "")
        assert placed.order is not None
        assert (placed.order.status, placed.order.client_order_id) == ("open", "alice-rest-1")
        assert placed.request_id == placed.order.exchange_id
        found = session.order_by_client_id("alice-rest-1")
        assert found is not None
        assert found.exchange_id == placed.request_id
        assert session.order_by_client_id("alice-never-sent") is None
        assert session.request_path("place") == "/perps/orders"

        assert session.cancel(placed.request_id) == placed.request_id
        assert session.open_orders() == []
        with pytest.raises(errors.NotFound):
            session.cancel(placed.request_id)
    (order,) = ledger(quiet_sim, alice)["orders"]
    assert (order["status"], order["reason"]) == ("canceled", "canceled by cancel-all")


def test_cancel_many_uses_ocxs_cancel_all_for_every_open_order_else_one_by_one(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    price = below_the_mark(quiet_sim, "BTC-PERP")
    with account(quiet_sim, secrets_of(alice)) as session:
        ids = [session.place(buy("BTC-PERP", "0.001", price=price)).request_id for _ in range(3)]
        assert session.cancel_many(ids[:1]) == "canceled:1"
        assert {o.exchange_id for o in session.open_orders()} == set(ids[1:])
        assert session.cancel_many(ids) == "cancel-all:2"
        assert session.open_orders() == []
    statuses = {o["id"]: o["status"] for o in ledger(quiet_sim, alice)["orders"]}
    assert statuses == dict.fromkeys(ids, "canceled")


def test_a_fill_comes_back_with_the_placed_order(quiet_sim: str, alice: dict[str, Any]) -> None:
    with account(quiet_sim, secrets_of(alice)) as session:
        placed = session.place(buy("BTC-PERP", "0.002"))
    assert placed.accepted is True
    assert placed.order is not None
    assert (placed.order.status, placed.order.fill_qty) == ("filled", Decimal("0.002"))


def test_a_resent_client_order_id_is_reconciled_not_placed_twice(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    price = below_the_mark(quiet_sim, "BTC-PERP")
    request = buy("BTC-PERP", "0.001", price=price, cid="alice-once")
    with account(quiet_sim, secrets_of(alice)) as session:
        first = session.place(request)
        second = session.place(request)
    assert second == Placed(first.request_id, accepted=None, order=second.order)
    assert second.order is not None
    assert second.order.client_order_id == "alice-once"
    assert len(ledger(quiet_sim, alice)["orders"]) == 1


def test_an_order_ocx_declines_is_rejected_in_words(quiet_sim: str, bob: dict[str, Any]) -> None:
    with account(quiet_sim, secrets_of(bob)) as session, pytest.raises(errors.Rejected) as caught:
        session.place(buy("BTC-PERP", "100"))
    assert errors.plain_words(caught.value) == (
        "OCX rejected it: Not enough margin in the perps bucket for this order."
    )


def test_keys_without_a_session_cancel_by_client_order_id_but_cannot_place(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    price = below_the_mark(quiet_sim, "BTC-PERP")
    with account(quiet_sim, secrets_of(alice)) as signed_in:
        resting = signed_in.place(buy("BTC-PERP", "0.001", price=price))
    with account(quiet_sim, secrets_of(alice, session=False)) as keys_only:
        with pytest.raises(errors.Rejected) as caught:
            keys_only.place(buy("BTC-PERP", "0.001", price=price))
        assert keys_only.cancel(resting.request_id) == resting.request_id
    words = errors.plain_words(caught.value)
    assert words.startswith("OCX rejected it: Placing a single order needs a signed-in OCX session")
    assert "sign in with the wallet" in words
    assert [o["status"] for o in ledger(quiet_sim, alice)["orders"]] == ["canceled"]


def test_ocx_has_no_leverage_margin_mode_or_isolated_margin_to_set(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    with account(quiet_sim, secrets_of(alice)) as session:
        calls = [
            lambda: session.set_leverage("BTC-PERP", 5),
            lambda: session.set_margin_mode("BTC-PERP", "isolated"),
            lambda: session.add_margin("BTC-PERP", Decimal(10)),
        ]
        for call in calls:
            with pytest.raises(errors.Rejected) as caught:
                call()
            assert caught.value.code == "UNSUPPORTED"
            assert errors.plain_words(caught.value).startswith("OCX rejected it: OCX ")
        assert session.request_path("set_leverage") == ocx_account.NO_ENDPOINT


def test_a_read_key_links_to_monitor_only_and_is_refused_a_trade_in_words(
    quiet_sim: str, bob: dict[str, Any]
) -> None:
    endpoints = ocx_venue.endpoints_for_simulator(quiet_sim)
    linked = ocx_venue.ADAPTER.link_pasted(
        endpoints, {"read_key": f" {bob['read_api_key']} ", "read_key_id": bob["read_api_key_id"]}
    )
    assert (linked.identity, linked.can_trade, linked.expires_at) == (bob["user_id"], False, None)
    assert dict(linked.secrets) == {"ocx_api_key_read": bob["read_api_key"]}
    assert dict(linked.scopes) == {"ocx_api_key_read": ("read",)}
    assert dict(linked.public_ids) == {"ocx_api_key_read": bob["read_api_key_id"]}
    assert linked.label_hint == f"OCX {bob['wallet_address'][:6]}…{bob['wallet_address'][-4:]}"
    assert bob["read_api_key"] not in repr(linked)

    with account(quiet_sim, dict(linked.secrets)) as session:
        assert session.read(FIRST_READ).balance.cash == Decimal(2000)
        for write in (
            lambda: session.place(buy("BTC-PERP", "0.001")),
            lambda: session.cancel_many(["01ANY"]),
        ):
            with pytest.raises(errors.Rejected) as caught:
                write()
            assert errors.plain_words(caught.value) == (
                "OCX rejected it: This account is linked to monitor only (a read key): "
                "link it for trading to place or cancel orders."
            )
            assert bob["read_api_key"] not in repr(caught.value)


def test_a_trade_key_links_for_trading_after_its_scope_is_checked(
    quiet_sim: str, alice: dict[str, Any], bob: dict[str, Any]
) -> None:
    endpoints = ocx_venue.endpoints_for_simulator(quiet_sim)
    linked = ocx_venue.ADAPTER.link_pasted(
        endpoints,
        {
            "read_key": alice["read_api_key"],
            "trade_key": alice["api_key"],
            "trade_key_id": alice["api_key_id"],
        },
    )
    assert (linked.identity, linked.can_trade) == (alice["user_id"], True)
    assert dict(linked.scopes) == {
        "ocx_api_key_read": ("read",),
        "ocx_api_key_trade": ("read", "trade"),
    }
    assert dict(linked.public_ids) == {"ocx_api_key_trade": alice["api_key_id"]}
    assert ledger(quiet_sim, alice)["orders"] == []  # checking the scope cancelled nothing

    refusals = [
        ({"read_key": alice["api_key"]}, "can also trade"),
        ({"read_key": alice["read_api_key"], "trade_key": alice["read_api_key"]}, "same key"),
        ({"read_key": bob["read_api_key"], "trade_key": bob["read_api_key"] + "x"}, "mistyped"),
        ({"read_key": alice["read_api_key"], "trade_key": bob["api_key"]}, "another OCX account"),
        ({"read_key": "ocx_sk_nope"}, "mistyped, revoked or expired"),
        ({"read_key": ""}, "Paste the read key"),
    ]
    for fields, words in refusals:
        with pytest.raises(errors.BadInput) as caught:
            ocx_venue.ADAPTER.link_pasted(endpoints, fields)
        assert words in caught.value.message
        assert all(secret not in str(caught.value) for secret in fields.values() if secret)


def test_a_trade_key_with_the_read_scope_is_refused_as_a_trade_key(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    session = alice["session"]
    created = httpx.post(
        f"{quiet_sim}/perps/me/api-keys",
        json={"name": "second-read", "scope": "read"},
        headers={"authorization": f"Bearer {session}"},
    ).json()
    with pytest.raises(errors.BadInput) as caught:
        ocx_venue.ADAPTER.link_pasted(
            ocx_venue.endpoints_for_simulator(quiet_sim),
            {"read_key": alice["read_api_key"], "trade_key": created["secret"]},
        )
    assert "read scope only" in caught.value.message


def test_an_account_without_credentials_must_be_relinked(quiet_sim: str) -> None:
    with pytest.raises(errors.AuthExpired):
        account(quiet_sim, {})


def test_the_kill_switch_outlives_the_session_and_no_error_carries_a_secret(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    price = below_the_mark(quiet_sim, "BTC-PERP")
    with account(quiet_sim, secrets_of(alice)) as session:
        resting = session.place(buy("BTC-PERP", "0.001", price=price))
    expired = sim_control(
        quiet_sim,
        "POST",
        "/sim/session",
        {"address": alice["wallet_address"], "expires_seconds": -60},
    )["session"]
    secrets = {**secrets_of(alice), ocx_account.SESSION_KIND: expired}
    with account(quiet_sim, secrets) as session:
        with pytest.raises(errors.AuthExpired) as placing:
            session.place(buy("BTC-PERP", "0.001", price=price))
        assert session.cancel_many([resting.request_id]) == "cancel-all:1"
    httpx.delete(
        f"{quiet_sim}/perps/me/api-keys/{alice['read_api_key_id']}",
        headers={"authorization": f"Bearer {alice['session']}"},
    ).raise_for_status()
    with account(quiet_sim, secrets) as session, pytest.raises(errors.AuthExpired) as reading:
        session.positions()
    for caught in (placing, reading):
        shown = f"{caught.value!r} {caught.value} {errors.plain_words(caught.value)}"
        assert all(secret not in shown for secret in secrets.values())
    assert all(secret not in repr(session) for secret in secrets.values())
    assert [o["status"] for o in ledger(quiet_sim, alice)["orders"]] == ["canceled"]


def test_a_liquidation_reads_as_a_liquidation_order(fresh_ocx_sim: str) -> None:
    sim_control(fresh_ocx_sim, "POST", "/sim/pause", {"paused": True})
    carol = sim_account(fresh_ocx_sim, deposit="1000", perps="500")
    with account(fresh_ocx_sim, secrets_of(carol)) as session:
        session.place(buy("BTC-PERP", "0.01"))
        (held,) = session.positions()
        assert held.liq_price is not None
        crash = (held.liq_price * Decimal("0.9")).quantize(Decimal("0.1"))
        sim_control(
            fresh_ocx_sim, "POST", "/sim/price", {"symbol": "BTC-PERP", "mark_price": str(crash)}
        )
        read = session.read(FIRST_READ)
    assert read.positions == []
    (liquidation,) = [o for o in read.new_orders if o.is_liquidation]
    assert (liquidation.side, liquidation.qty, liquidation.reduce_only) == (
        "sell",
        Decimal("0.01"),
        True,
    )
    assert len(read.new_fills) == 2


def test_a_replayed_sign_in_and_a_revoked_key_are_refused_in_the_error_maps_words(
    quiet_sim: str, alice: dict[str, Any]
) -> None:
    from ocx.auth import sign

    endpoints = ocx_venue.endpoints_for_simulator(quiet_sim)
    challenge = ocx_venue.ADAPTER.mint_begin(endpoints, alice["wallet_address"])
    signature = sign(alice["wallet_private_key"], challenge.message)
    signed = ocx_venue.ADAPTER.mint_sign_in(endpoints, challenge.state, signature)
    assert signed.identity == alice["user_id"] and "0x" not in repr(signed)
    with pytest.raises(errors.BadInput) as replayed:
        ocx_venue.ADAPTER.mint_sign_in(endpoints, challenge.state, signature)
    assert replayed.value.message == ocx_common.WORDS["NONCE_MISMATCH"]
    linked = signed.mint("monitor", 30)
    assert (linked.can_trade, set(linked.secrets), linked.minted) == (
        False,
        {ocx_account.READ_KEY_KIND},
        frozenset({ocx_account.READ_KEY_KIND}),
    )
    assert "ocx_sk" not in repr(linked)
    signed.revoke(list(linked.public_ids.values()))
    with pytest.raises(errors.AuthExpired) as revoked:
        account(quiet_sim, dict(linked.secrets)).positions()
    assert revoked.value.message == "the API key was revoked on OCX"
    signed.discard()
    with pytest.raises(errors.AuthExpired, match="OCX revokes keys only from a signed-in session"):
        ocx_venue.ADAPTER.minted_revoke(endpoints, dict(linked.secrets), ["any"])
