"""Alert latency: from a simulator price move that crosses a threshold to the browser's socket.

For each account count N: a fresh simulator (paused, so only our moves change SOL's mark), a
dedicated `standx_bench` database holding N users, each with one linked account holding an
isolated SOL long (so every SOL mark re-evaluates all N accounts). One in a hundred accounts
(at least one: the watched user's) sits at 10x near its critical health level; the others hold
3x and never cross. Real processes: `manage.py pricestream` (the stream, the rules, the
writes) and daphne (the channel layer to the browser's socket), both on the bench database and
Redis. A WebSocket client logged in as the watched user plays the browser.

Each round sets the mark below the critical level (the alert fires) and then back (it
resolves); the latency of each is the time from the `/sim/price` call to the socket message.
Prints p50/p99/max per N.

    .venv/bin/python bench/alert_latency.py [--accounts 100 1000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.simulator import free_port, start_sim  # noqa: E402
from bench.sync_scale import _bench_database  # noqa: E402

SYMBOL = "SOL-USD"
RATE = Decimal("0.01")  # maintenance rate of the positions we store


def setup_accounts(n: int, url: str, base: Decimal) -> tuple[int, Decimal, Decimal]:
    """N users with one SOL long each; returns (watched user id, fire mark, recover mark)."""
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import AccountMode, ExchangeAccount, User
    from bench.linked import standx_row
    from portfolio.alerts.evaluation import rules_create_defaults
    from portfolio.models import BalanceSnapshot, MarketPrice, Position

    call_command("flush", interactive=False, verbosity=0)
    now = timezone.now()
    users = User.objects.bulk_create([User(username=f"trader{i}") for i in range(n)])
    for user in users:
        rules_create_defaults(user.pk)
    accounts = ExchangeAccount.objects.bulk_create(
        [
            standx_row(
                user,
                f"acct {i}",
                f"0x{i:040x}",
                url,
                mode=AccountMode.READ_ONLY,
                sync_enabled=False,
            )
            for i, user in enumerate(users)
        ]
    )
    risky = max(1, n // 100)
    qty = Decimal(20)
    positions, balances = [], []
    zero = Decimal(0)
    for i, account in enumerate(accounts):
        leverage = Decimal(10) if i < risky else Decimal(3)
        holding = qty * base / leverage
        positions.append(
            Position(
                account=account,
                symbol=SYMBOL,
                exchange_id=i + 1,
                qty=qty,
                entry_price=base,
                mark_price=base,
                position_value=qty * base,
                upnl=zero,
                margin_mode="isolated",
                leverage=leverage,
                initial_margin=holding,
                holding_margin=holding,
                maint_margin=qty * base * RATE,
                synced_at=now,
            )
        )
        balances.append(
            BalanceSnapshot(
                account=account,
                taken_at=now,
                equity=Decimal(1000) + holding,
                cash=Decimal(1000) + holding,
                upnl=zero,
                margin_used=holding,
                available=Decimal(1000),
                locked=zero,
                cross_balance=Decimal(1000),
                cross_upnl=zero,
            )
        )
    Position.objects.bulk_create(positions)
    BalanceSnapshot.objects.bulk_create(balances)
    MarketPrice.objects.create(symbol=SYMBOL, mark_price=base, updated_at=now)
    # Health h at mark m for the 10x longs: (H + q (m - base)) / (q m r); solve for h = 1.2.
    holding = qty * base / 10
    fire = ((qty * base - holding) / (qty * (1 - Decimal("1.2") * RATE))).quantize(Decimal("0.01"))
    return users[0].pk, fire, base


def session_cookie(user_id: int) -> str:
    from django.conf import settings
    from django.test import Client

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(pk=user_id))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def child(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def measure(
    ws_url: str,
    origin: str,
    cookie: str,
    sim_url: str,
    fire: Decimal,
    recover: Decimal,
    rounds: int,
) -> list[float]:
    import websockets

    latencies: list[float] = []
    async with (
        websockets.connect(
            ws_url, additional_headers={"Cookie": cookie, "Origin": origin}, open_timeout=30
        ) as ws,
        httpx.AsyncClient(base_url=sim_url, timeout=10) as sim,
    ):
        first = json.loads(await ws.recv())
        assert first["type"] == "state", first
        warmup = 2  # rounds that open connections and warm caches: not counted
        for round_no in range(rounds + warmup):
            for mark, kind in ((fire, "fired"), (recover, "resolved")):
                started = time.perf_counter()
                await sim.post("/sim/price", json={"symbol": SYMBOL, "mark_price": str(mark)})
                while True:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if (
                        msg.get("type") == "alert"
                        and msg["kind"] == kind
                        and msg["alert"]["title"].find("margin health") >= 0
                        and ("Critical" in msg["alert"]["title"] or kind == "resolved")
                    ):
                        break
                if round_no >= warmup:
                    latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.3)
    return latencies


@dataclass
class Rig:
    """A paused simulator with N accounts set up, and the child processes a bench starts."""

    sim_url: str
    watched: int  # the user whose alerts are watched
    fire: Decimal  # the mark that takes the risky accounts below their critical level
    recover: Decimal  # the mark that brings them back
    env: dict[str, str]
    children: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, args: list[str]) -> None:
        self.children.append(child(args, self.env))


@contextmanager
def latency_rig(n: int) -> Iterator[Rig]:
    """The set-up both latency benches share; every process it or the bench started is
    stopped at the end."""
    proc, sim_url = start_sim(seed=5)
    rig: Rig | None = None
    try:
        httpx.post(f"{sim_url}/sim/pause", json={"paused": True})
        httpx.post(f"{sim_url}/sim/limits", json={"enabled": False})
        base = Decimal("150.00")
        httpx.post(f"{sim_url}/sim/price", json={"symbol": SYMBOL, "mark_price": str(base)})
        watched, fire, recover = setup_accounts(n, sim_url, base)
        ws = "ws" + sim_url.removeprefix("http")
        env = dict(
            os.environ,
            STANDX_PERPS_URL=sim_url,
            STANDX_AUTH_URL=sim_url,
            STANDX_WS_URL=f"{ws}/ws-stream/v1",
            STANDX_WS_API_URL=f"{ws}/ws-api/v1",
            DATABASE_CONN_MAX_AGE="60",
        )
        rig = Rig(sim_url, watched, fire, recover, env)
        yield rig
    finally:
        children = rig.children if rig else []
        for c in children:
            c.terminate()
        for c in children:
            c.wait(15)
        proc.terminate()
        proc.wait(10)


def summary(latencies: list[float]) -> dict[str, float]:
    """p50, p99 and max of the samples, in ms."""
    ordered = sorted(latencies)
    return {
        "samples": len(ordered),
        "p50": statistics.median(ordered),
        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max": ordered[-1],
    }


def run_one(n: int, rounds: int) -> dict[str, float]:
    with latency_rig(n) as rig:
        port = free_port()
        rig.start(
            ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "standx_web.asgi:application"]
        )
        rig.start(["manage.py", "pricestream"])
        origin = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{origin}/accounts/login/", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("daphne did not start")
            time.sleep(0.2)
        time.sleep(3)  # the price stream subscribes to the held symbol
        latencies = asyncio.run(
            measure(
                f"ws://127.0.0.1:{port}/ws/live/",
                origin,
                session_cookie(rig.watched),
                rig.sim_url,
                rig.fire,
                rig.recover,
                rounds,
            )
        )
    return {"accounts": n, **summary(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    _bench_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    print(f"{'accounts':>8} {'samples':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    for n in args.accounts:
        r = run_one(n, args.rounds)
        print(
            f"{r['accounts']:>8.0f} {r['samples']:>7.0f} {r['p50']:>7.1f} {r['p99']:>7.1f} "
            f"{r['max']:>7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
