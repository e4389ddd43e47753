"""Dashboard pages at size: one user with 50 open positions and 100,000 trades.

A dedicated `standx_bench` database holds one user with 5 linked accounts x 10 symbols (50
positions), 100,000 fills and 20,000 finished orders spread over 90 days, 50 open orders, a
month of balance snapshots (as retention keeps them: 1-minute for 2 days, hourly after) and
funding payments. Each page is rendered server-side in this process through Django's test
client (no network): warm-up, then timed runs; prints p50/p95 in ms, the median CPU time of
this process per render (the page's Python, without the database server's share: the figure to
compare on a busy machine, where wall times swing), and the SQL queries the page makes (its
own, and with the session/user lookups and the session save).

The symbol page's candles come from the cache (filled first), so the figure is our rendering,
not StandX's latency. The CSV export is timed end to end over all 100,000 trades, with the peak
Python memory it allocated.

    .venv/bin/python bench/pages.py [--trades 100000] [--runs 60]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
import tracemalloc
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync_scale import _bench_database  # noqa: E402

ACCOUNTS = 5
SYMBOLS = [f"S{i}-USD" for i in range(10)]
# Not the page's own: the middleware's session and user lookups, the session save, and the
# transaction control of ATOMIC_REQUESTS.
CONTROL = ("BEGIN", "COMMIT", "SAVEPOINT", "RELEASE SAVEPOINT")
NOT_THE_PAGES = (
    'SELECT "django_session"',
    'UPDATE "django_session"',
    'SELECT "accounts_user"',
    *CONTROL,
)


def populate(n_trades: int, n_orders: int) -> int:
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import AccountMode, ExchangeAccount, User
    from bench.linked import standx_row
    from portfolio.alerts.evaluation import rules_create_defaults
    from portfolio.models import (
        BalanceSnapshot,
        FundingPayment,
        MarketPrice,
        MarketSymbol,
        Order,
        Position,
        SyncState,
        Trade,
    )

    call_command("flush", interactive=False, verbosity=0)
    rng = random.Random(7)
    now = timezone.now()
    user = User.objects.create_user("alice", password="bench-password")
    rules_create_defaults(user.pk)
    accounts = ExchangeAccount.objects.bulk_create(
        [
            standx_row(
                user,
                f"Desk {i}",
                f"0x{i:040x}",
                "http://127.0.0.1:9",
                mode=AccountMode.READ_ONLY,
                sync_enabled=False,
            )
            for i in range(ACCOUNTS)
        ]
    )
    SyncState.objects.bulk_create(
        [SyncState(account=a, next_due_at=now, last_success_at=now) for a in accounts]
    )
    d = Decimal
    for i, symbol in enumerate(SYMBOLS):
        MarketSymbol.objects.create(
            symbol=symbol,
            base_asset=symbol[:2],
            quote_asset="DUSD",
            price_tick_decimals=2,
            qty_tick_decimals=3,
            min_order_qty=d("0.001"),
            max_order_qty=d(1000),
            max_leverage=d(20),
            maker_fee=d("0.0001"),
            taker_fee=d("0.0004"),
            price_cap_ratio=d("0.1"),
            price_floor_ratio=d("0.1"),
        )
        MarketPrice.objects.create(symbol=symbol, mark_price=d(100 + i), updated_at=now)
    positions: list[Position] = []
    balances: list[BalanceSnapshot] = []
    funding: list[FundingPayment] = []
    zero = d(0)
    for a in accounts:
        for i, symbol in enumerate(SYMBOLS):
            mark = d(100 + i)
            qty = d(rng.choice([-1, 1]) * rng.randint(1, 50))
            isolated = i % 2 == 0
            positions.append(
                Position(
                    account=a,
                    symbol=symbol,
                    exchange_id=a.pk * 100 + i,
                    qty=qty,
                    entry_price=mark * d("0.98"),
                    mark_price=mark,
                    position_value=abs(qty) * mark,
                    upnl=qty * mark * d("0.02"),
                    leverage=d(5),
                    margin_mode="isolated" if isolated else "cross",
                    initial_margin=abs(qty) * mark / 5,
                    holding_margin=abs(qty) * mark / 5 if isolated else None,
                    maint_margin=abs(qty) * mark * d("0.01"),
                    opened_at=now - timedelta(days=20),
                    synced_at=now,
                )
            )
            funding.extend(  # three fundings a day for 20 days
                FundingPayment(
                    account=a,
                    symbol=symbol,
                    funding_time=now - timedelta(hours=8 * k),
                    funding_rate=d("0.0001"),
                    mark_price=mark,
                    position_qty=qty,
                    amount=-qty * mark * d("0.0001"),
                )
                for k in range(60)
            )
        times = [now - timedelta(minutes=m) for m in range(0, 2 * 24 * 60)]
        times += [now - timedelta(hours=h) for h in range(48, 30 * 24)]
        for at in times:
            equity = d(10000) + d(rng.randint(-500, 500))
            balances.append(
                BalanceSnapshot(
                    account=a,
                    taken_at=at,
                    equity=equity,
                    cash=d(10000),
                    upnl=zero,
                    margin_used=d(3500),
                    available=d(6000),
                    locked=zero,
                    realized_24h=d(12),
                    cross_balance=d(8000),
                    cross_upnl=zero,
                )
            )
    Position.objects.bulk_create(positions)
    FundingPayment.objects.bulk_create(funding, batch_size=5000)
    BalanceSnapshot.objects.bulk_create(balances, batch_size=5000)
    span = 90 * 24 * 3600
    trades = []
    for k in range(n_trades):
        a = accounts[k % ACCOUNTS]
        price = d(100 + rng.randint(0, 900)) / 10
        qty = d(rng.randint(1, 100)) / 10
        trades.append(
            Trade(
                account=a,
                exchange_id=k + 1,
                order_exchange_id=k + 1,
                symbol=SYMBOLS[rng.randrange(len(SYMBOLS))],
                side=rng.choice(["buy", "sell"]),
                price=price,
                qty=qty,
                value=price * qty,
                fee_qty=price * qty * d("0.0004"),
                fee_asset="DUSD",
                pnl=d(rng.randint(-500, 500)) / 100,
                traded_at=now - timedelta(seconds=rng.randrange(span)),
            )
        )
        if len(trades) == 10000:
            Trade.objects.bulk_create(trades)
            trades = []
    Trade.objects.bulk_create(trades)
    orders = []
    for k in range(n_orders + 50):
        a = accounts[k % ACCOUNTS]
        status = "open" if k >= n_orders else rng.choice(["filled", "canceled"])
        orders.append(
            Order(
                account=a,
                exchange_id=k + 1,
                symbol=SYMBOLS[k % len(SYMBOLS)],
                side=rng.choice(["buy", "sell"]),
                order_type="limit",
                status=status,
                time_in_force="gtc",
                qty=d(1),
                price=d(100),
                fill_qty=d(1) if status == "filled" else zero,
                fill_avg_price=d(100) if status == "filled" else None,
                created_at=now - timedelta(seconds=span - k * (span // (n_orders + 50))),
            )
        )
    Order.objects.bulk_create(orders, batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return user.pk


def measure(client: Any, url: str, runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    queries = [
        q["sql"] for q in captured.captured_queries if not q["sql"].lstrip().startswith(CONTROL)
    ]
    own = [q for q in queries if not q.lstrip().startswith(NOT_THE_PAGES)]
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        client.get(url)
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    times.sort()
    # Python function calls in one render: deterministic, so it compares two trees on a busy
    # machine where even CPU times swing.
    profile = cProfile.Profile()
    profile.runcall(client.get, url)
    calls = pstats.Stats(profile).total_calls  # type: ignore[attr-defined]
    return {
        "calls": calls,
        "cpu": statistics.median(cpu),
        "p50": statistics.median(times),
        "p95": times[int(len(times) * 0.95) - 1],
        "own": len(own),
        "all": len(queries),
    }


def export_all(client: Any, url: str) -> tuple[float, float, int, float]:
    """Seconds and rows of a full export, then (in a second pass, as tracing slows Python
    down) the peak Python allocation while streaming it."""
    from asgiref.sync import async_to_sync

    def drain() -> int:
        response = client.get(url)

        async def read() -> int:
            rows = 0
            async for chunk in response.streaming_content:
                rows += chunk.count(b"\n")
            return rows

        return int(async_to_sync(read)())

    start, start_cpu = time.perf_counter(), time.process_time()
    rows = drain()
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - start_cpu
    tracemalloc.start()
    drain()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, cpu_s, rows - 1, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trades", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()

    _bench_database()
    os.environ["SECURE_SSL_REDIRECT"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.core.cache import cache
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse
    from django.utils import timezone

    from accounts.models import User
    from portfolio.dashboard import charts, history
    from portfolio.models import Order, Trade

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    started = time.perf_counter()
    user_id = populate(args.trades, args.orders)
    print(
        f"data: {ACCOUNTS * len(SYMBOLS)} positions, {Trade.objects.count():,} trades, "
        f"{Order.objects.count():,} orders ({time.perf_counter() - started:.0f} s to create)"
    )
    # Candles as the exchange would give them, cached: the symbol page's figure is ours.
    now = int(timezone.now().timestamp())
    bar = {"open": "100", "high": "101", "low": "99", "close": "100.5", "volume": "10"}
    bars = [{"time": now - 900 * k, **bar} for k in range(300, 0, -1)]
    cache.set(f"candles:http://127.0.0.1:9:S1-USD:{charts.DEFAULT_RESOLUTION}", bars, 3600)

    client = Client()
    client.force_login(User.objects.get(pk=user_id))
    deep_trade = Trade.objects.order_by("-traded_at", "-pk")[args.trades // 2]
    deep_order = Order.objects.exclude(status="open").order_by("-exchange_id", "-pk")[
        args.orders // 2
    ]
    trade_cursor = history.TRADES.cursor_of(deep_trade).encode()
    order_cursor = history.ORDERS.cursor_of(deep_order).encode()
    since = (timezone.now() - timedelta(days=30)).date().isoformat()
    pages = [
        ("overview", reverse("portfolio:overview")),
        ("positions", reverse("portfolio:positions")),
        ("stress -10% all", reverse("portfolio:positions_stress") + "?symbol=&pct=-10"),
        ("orders", reverse("portfolio:orders")),
        ("orders, page at 50%", reverse("portfolio:orders") + f"?after={order_cursor}"),
        ("trades", reverse("portfolio:trades")),
        ("trades, page at 50%", reverse("portfolio:trades") + f"?after={trade_cursor}"),
        ("trades, symbol+30d", reverse("portfolio:trades") + f"?symbol=S3-USD&start={since}"),
        ("symbol S1-USD", reverse("portfolio:symbol", args=["standx", "S1-USD"])),
        ("equity.json all", reverse("portfolio:equity_data") + "?range=all"),
        ("alerts", reverse("portfolio:alerts")),
    ]
    heads = ("p50 ms", "p95 ms", "CPU ms", "calls", "queries")
    print(f"{'page':<22} " + " ".join(f"{h:>8}" for h in heads) + f" {'with session':>13}")
    for name, url in pages:
        r = measure(client, url, args.runs)
        print(
            f"{name:<22} {r['p50']:8.1f} {r['p95']:8.1f} {r['cpu']:8.1f} {r['calls']:8d} "
            f"{r['own']:8d} {r['all']:13d}"
        )
    seconds, cpu_s, rows, peak = export_all(client, reverse("portfolio:trades_csv"))
    print(
        f"CSV export: {rows:,} trades in {seconds:.2f} s ({rows / seconds:,.0f} rows/s, "
        f"{cpu_s:.2f} s of this process's CPU), peak Python allocation {peak:.1f} MB"
    )


if __name__ == "__main__":
    main()
