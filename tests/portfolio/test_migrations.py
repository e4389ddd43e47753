"""The venue re-plan's migrations keep every row: start from the schema before them with a
linked account (encrypted credentials), market data, a trade and an alert, migrate forward,
and find each row, keyed to StandX, with credentials that still decrypt."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from accounts import credentials, crypto
from accounts.models import ExchangeAccount
from portfolio.models import Alert, BalanceSnapshot, Order, Trade

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("accounts", "0002_standx_accounts"), ("portfolio", "0007_marketsymbol_status")]
AT = datetime(2026, 11, 30, 12, tzinfo=UTC)
TOKEN = "header.payload.signature-of-a-stored-token"
SIGNING_KEY = "base58-seed-of-a-signing-key"


def migrate(targets: list[tuple[str, str]] | None) -> MigrationExecutor:
    """Migrate to ``targets`` (``None``: the latest schema)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    return MigrationExecutor(connection)


@pytest.fixture
def back_to_latest() -> Iterator[None]:
    """The tests after this one need the whole schema again."""
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_venue_migrations_keep_every_row_and_credential(back_to_latest: None) -> None:
    old = migrate(BEFORE).loader.project_state(BEFORE).apps
    user = old.get_model("accounts", "User").objects.create(username="alice")
    account = old.get_model("accounts", "StandXAccount").objects.create(
        owner=user,
        label="Main",
        chain="bsc",
        address="0xa",
        perps_url="http://x",
        auth_url="http://x",
        ws_url="ws://x",
        ws_api_url="ws://x",
        mode="trading",
    )
    # Sealed as the product seals it: bound to the row and the field.
    sealed = crypto.encrypt(TOKEN, context=f"standx-account:{account.pk}:token")
    key = crypto.encrypt(SIGNING_KEY, context=f"standx-account:{account.pk}:signing_key")
    type(account).objects.filter(pk=account.pk).update(
        token_encrypted=sealed, signing_key_encrypted=key, public_key="pub-key-id"
    )
    d = Decimal
    old.get_model("portfolio", "MarketSymbol").objects.create(
        symbol="SOL-USD",
        base_asset="SOL",
        quote_asset="DUSD",
        price_tick_decimals=3,
        qty_tick_decimals=2,
        min_order_qty=d("0.01"),
        max_order_qty=d(1000),
        max_leverage=d(20),
        maker_fee=d("0.0001"),
        taker_fee=d("0.0004"),
        price_cap_ratio=d("0.1"),
        price_floor_ratio=d("0.1"),
    )
    old.get_model("portfolio", "MarketPrice").objects.create(
        symbol="SOL-USD", mark_price=d(150), updated_at=AT
    )
    old.get_model("portfolio", "FundingRate").objects.create(
        symbol="SOL-USD", time=AT, funding_rate=d("0.0001")
    )
    old.get_model("portfolio", "Trade").objects.create(
        account=account,
        exchange_id=7,
        order_exchange_id=8,
        symbol="SOL-USD",
        side="buy",
        qty=d(2),
        price=d(150),
        value=d(300),
        fee_qty=d("0.12"),
        fee_asset="DUSD",
        pnl=d(0),
        traded_at=AT,
    )
    old.get_model("portfolio", "Order").objects.create(
        account=account,
        exchange_id=9,
        symbol="SOL-USD",
        side="sell",
        order_type="market",
        status="filled",
        qty=d(2),
        fill_qty=d(2),
        liq_id=77,
        created_at=None,
        updated_at=AT,
    )
    standx_balance = {
        "isolated_balance": d(300),
        "isolated_upnl": d(-5),
        "cross_balance": d(9700),
        "cross_margin": d(150),
        "cross_upnl": d(20),
        "locked": d(10),
        "cross_available": d(9540),
        "balance": d(10000),
        "upnl": d(15),
        "equity": d(10015),
        "pnl_freeze": d(3),
    }
    old.get_model("portfolio", "BalanceSnapshot").objects.create(
        account=account, taken_at=AT, **standx_balance
    )
    rule = old.get_model("portfolio", "AlertRule").objects.create(
        user=user,
        key="health-critical",
        metric="health",
        direction="below",
        severity="critical",
        trigger=d("1.3"),
        clear=d("1.5"),
    )
    old.get_model("portfolio", "Alert").objects.create(
        user=user,
        account=account,
        rule=rule,
        symbol="SOL-USD",
        status="firing",
        severity="critical",
        since=AT,
        value=d("1.2"),
        opened_at=AT,
        fired_at=AT,
    )

    migrate(None)
    migrated = ExchangeAccount.objects.get(pk=account.pk)
    assert (migrated.venue, migrated.identity, migrated.origin) == ("standx", "0xa", "http://x")
    assert migrated.endpoints == {
        "perps": "http://x",
        "auth": "http://x",
        "ws": "ws://x",
        "ws_api": "ws://x",
    }
    assert migrated.can_trade and migrated.signing_public_key == "pub-key-id"
    # Copied, not re-encrypted: the same ciphertexts, with the data they were sealed with.
    rows = {row.kind: row for row in migrated.credentials.all()}
    assert rows["standx_token"].secret_encrypted == sealed
    assert rows["standx_token"].aad == f"standx-account:{account.pk}:token"
    assert rows["standx_signing_key"].secret_encrypted == key
    assert credentials.credentials_open(migrated) == {
        "standx_token": TOKEN,
        "standx_signing_key": SIGNING_KEY,
    }
    # Rotation works per row, with the row's own associated data.
    rotated = [crypto.Key("new-key", bytes(32)), *crypto.configured_keys()]
    assert credentials.credentials_rotate(rotated)["rotated"] == 2
    for row in migrated.credentials.all():
        assert crypto.key_id_of(row.secret_encrypted) == "new-key"
        assert crypto.decrypt(row.secret_encrypted, context=row.aad, keys=rotated) in (
            TOKEN,
            SIGNING_KEY,
        )
    for name in ("MarketSymbol", "MarketPrice", "FundingRate"):
        rows = apps.get_model("portfolio", name).objects.values_list("venue", "symbol")
        assert list(rows) == [("standx", "SOL-USD")], name
    assert Trade.objects.get().exchange_id == "7"  # text now
    order = Order.objects.get()
    assert (order.exchange_id, order.is_liquidation, order.created_at) == ("9", True, AT)
    b = BalanceSnapshot.objects.get()
    assert (b.equity, b.cash, b.upnl, b.margin_used, b.available) == (10015, 10000, 15, 450, 9540)
    assert (b.cross_balance, b.cross_upnl, b.locked, b.realized_24h) == (9700, 20, 10, 3)
    assert b.raw == {name: format(value, "f") for name, value in standx_balance.items()}
    assert Alert.objects.get().status == "firing"
