"""Time from "Sign and send" to a settled outcome, with and without the order response stream.

One user with one trading-mode account on a local simulator (its rate limits off: this times our
path, not StandX's budget). Each run is `trading.order_submit` of a fresh ticket, as the order
form's POST calls it: audit entry, signed POST, the outcome. Three cases, each with the ws-api
order stream (the default) and with its handshake refused (the `query_order` fallback):

- a resting limit order (accepted),
- an ALO order that would take (rejected: "alo order rejected"),
- a small market order (filled; the position is flattened again after each run).

Prints p50/p95 in ms and how each run settled.

    .venv/bin/python bench/order_submit.py [--runs 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.simulator import start_sim  # noqa: E402
from bench.sync_scale import _bench_database  # noqa: E402
from venues import standx as standx_venue  # noqa: E402


def run(runs: int) -> None:
    from django.core.management import call_command

    from accounts.models import User
    from bench.linked import standx_linked
    from portfolio.domain import order_rules
    from portfolio.market import store as market
    from portfolio.models import MarketPrice
    from portfolio.trading import services as trading

    call_command("flush", interactive=False, verbosity=0)
    trading.RATE_LIMIT = 10**6  # the per-user guard is not what is timed
    proc, url = start_sim(seed=5)
    try:
        sim = httpx.Client(base_url=url, timeout=30)
        sim.post("/sim/limits", json={"enabled": False})
        sim.post("/sim/pause", json={"paused": True})
        with standx_venue.ADAPTER.public(standx_venue.endpoints_for_simulator(url)) as public:
            market.market_sync(public)
        acct = sim.post("/sim/accounts", json={"chain": "bsc", "deposit": "100000"}).json()
        user = User.objects.create_user("alice")
        account = standx_linked(user, "Main", url, acct)
        mark = MarketPrice.objects.get(symbol="ETH-USD").mark_price
        assert mark is not None

        def limit(factor: str, tif: str) -> order_rules.Ticket:
            price = (mark * Decimal(factor)).quantize(Decimal("0.01"))
            return order_rules.Ticket(
                symbol="ETH-USD",
                side="buy",
                order_type="limit",
                qty=Decimal("0.01"),
                price=price,
                time_in_force=tif,
            )

        def market_order(side: str) -> order_rules.Ticket:
            return order_rules.Ticket(
                symbol="ETH-USD",
                side=side,
                order_type="market",
                qty=Decimal("0.01"),
                time_in_force="ioc",
            )

        cases = {
            "resting limit": lambda: limit("0.9", "gtc"),
            "ALO rejected": lambda: limit("1.05", "alo"),
            "market fill": lambda: market_order("buy"),
        }
        print(f"{'case':<14} {'order stream':<13} {'p50 ms':>7} {'p95 ms':>7}  outcomes")
        for stream in (True, False):
            if not stream:
                sim.post("/sim/faults", json={"endpoint": "ws-api", "ws_refuse_rate": 1.0})
            for name, ticket in cases.items():
                times: list[float] = []
                outcomes: Counter[str] = Counter()
                for _ in range(runs):
                    t0 = time.perf_counter()
                    entry = trading.order_submit(
                        user_id=user.pk,
                        account_id=account.pk,
                        ticket=ticket(),
                        cl_ord_id=trading.new_cl_ord_id(),
                    )
                    times.append((time.perf_counter() - t0) * 1000)
                    outcomes[entry.status] += 1
                    if name == "market fill":
                        trading.order_submit(
                            user_id=user.pk,
                            account_id=account.pk,
                            ticket=market_order("sell"),
                            cl_ord_id=trading.new_cl_ord_id(),
                        )
                times.sort()
                print(
                    f"{name:<14} {'on' if stream else 'refused':<13} "
                    f"{statistics.median(times):>7.0f} {times[int(len(times) * 0.95) - 1]:>7.0f}  "
                    + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())),
                    flush=True,
                )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    _bench_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    run(args.runs)


if __name__ == "__main__":
    main()
