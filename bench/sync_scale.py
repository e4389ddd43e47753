"""Sync pipeline at scale against a local simulator with StandX's rate limits on.

For each account count: a fresh simulator (per-IP limit 50 req/s enforced), accounts created
through its control API with a realistic mix (0.5 % near liquidation with 10x isolated SOL
longs, 5 % holding BTC positions, the rest flat), linked directly in a dedicated `standx_bench`
database (skipping the two verification calls per link). Then the real dispatcher runs here
every 0.5 s with half of the 45 req/s budget, and hands the due accounts to worker processes, as
Celery's prefork pool does: six for the default queue and two for the urgent one (accounts near
liquidation and the alert batches, as in docker-compose). Workers keep their database
connections, as a Celery worker does with `DATABASE_CONN_MAX_AGE`, and every REST call goes
through the Redis-shared StandX rate limiter. After a warm-up that covers the first full backfill
of every account and a settle phase (until no account is more than 10 s overdue), it spreads the
accounts' periodic full reads over their periods, as for accounts linked over days, then
measures the steady state for a fixed time and prints:

- REST requests/s used (and transient sync failures),
- p99 age of every account's data, and the worst and median age among the accounts nearest
  liquidation,
- CPU ms per account-sync: the CPU time of the workers inside `account_sync`, plus the batched
  alert evaluation the syncs queue (`portfolio.evaluate_synced`, run on the urgent pool
  `COALESCE_S` after a sync schedules it), divided by the syncs. The dispatcher's and the
  bench's own sampling are not counted; the evaluation's share is printed too.
- rows written/s,
- and the CPU of each kind of sync (a flat account's balance check, a steady read of an account
  with positions or orders, a full read of its history).

With ``--venues standx,perpex`` the accounts split evenly between StandX's and PerpEx's
simulators, each venue dispatched within its own budget, and it also prints each venue's
requests and data age, the PerpEx simulator's 429s, and a trading load run beside the sync on
the PerpEx keys that hold positions (place and cancel, through the trading path's share of each
key's budget): how many, how many failed, and their p50 / p99.

    .venv/bin/python bench/sync_scale.py [--accounts 10 100 1000] [--seconds 60]
        [--venues standx,perpex] [--warmup-cap 400]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from decimal import Decimal
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.simulator import start_perpex_sim, start_sim  # noqa: E402

VENUES = ("standx", "perpex")


def _bench_database() -> None:
    """Point Django at a `standx_bench` database on the configured (or embedded) server."""
    from standx_web import embedded

    url = os.environ.get("DATABASE_URL") or embedded.database_url()
    parts = urlsplit(url)
    bench = urlunsplit(parts._replace(path="/standx_bench"))
    import psycopg

    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS standx_bench WITH (FORCE)")
        conn.execute("CREATE DATABASE standx_bench")
    os.environ["DATABASE_URL"] = bench
    os.environ.setdefault("REDIS_URL", embedded.redis_url())
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-not-for-deployment-0123456789")
    os.environ.setdefault("CREDENTIAL_KEYS", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "standx_web.settings")


def bench_django() -> None:
    """Django set up on a fresh, migrated `standx_bench` database."""
    _bench_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def run_one(
    n: int, seconds: float, warmup_cap: float, venues: tuple[str, ...] = ("standx",)
) -> dict[str, float]:
    from django.core.management import call_command
    from django.utils import timezone

    from accounts.models import AccountMode, ExchangeAccount, User
    from bench.linked import standx_linked
    from exchange_common.ratelimit import NoRateLimit
    from portfolio.alerts import batches as alert_batches
    from portfolio.models import (
        BalanceSnapshot,
        Order,
        Position,
        PositionSnapshot,
        SyncState,
        Trade,
    )
    from portfolio.sync import dispatch
    from portfolio.sync import pipeline as sync
    from standx.rest import Credentials, Endpoints, StandXClient
    from standx_web.redis_client import redis_client

    call_command("flush", interactive=False, verbosity=0)
    proc, url = start_sim(seed=11)
    perpex_proc, perpex_url = start_perpex_sim(seed=11) if "perpex" in venues else (None, "")
    # The accounts split evenly between the venues (StandX takes the odd one).
    n_perpex = n // len(venues) if "perpex" in venues else 0
    n_all, n = n, n - n_perpex
    try:
        sim = httpx.Client(base_url=url, timeout=30)
        sim.post("/sim/pause", json={"paused": True})
        endpoints = Endpoints.for_simulator(url)
        owner = User.objects.create_user("bench")
        risky_n, holders_n = max(1, n // 200), max(1, n // 20)
        # Setting up positions is not what is measured: limits off meanwhile.
        sim.post("/sim/limits", json={"enabled": False})
        risky_ids: list[int] = []
        for i in range(n):
            acct = sim.post("/sim/accounts", json={"chain": "bsc", "deposit": "10000"}).json()
            creds = Credentials.from_strings(acct["token"], acct["signing_key"])
            if i < risky_n + holders_n:
                with StandXClient(creds, endpoints=endpoints, rate_limiter=NoRateLimit()) as c:
                    if i < risky_n:
                        c.change_margin_mode(symbol="SOL-USD", margin_mode="isolated")
                        c.change_leverage(symbol="SOL-USD", leverage=10)
                        c.new_order(symbol="SOL-USD", side="buy", order_type="market", qty="20")
                    else:
                        c.new_order(symbol="BTC-USD", side="buy", order_type="market", qty="0.01")
            # Trading mode without a signing key: the sync only reads.
            account = standx_linked(owner, f"bench {i}", url, acct, trading=False)
            ExchangeAccount.objects.filter(pk=account.pk).update(mode=AccountMode.TRADING)
            if i < risky_n:
                risky_ids.append(account.pk)
        traded_keys: list[str] = []
        if n_perpex:
            perpex_risky, traded_keys = _perpex_accounts(owner, n_perpex, perpex_url)
            risky_ids += perpex_risky
        # Bring the 10x SOL longs to ~1.3x health: polled every second from now on.
        first = ExchangeAccount.objects.get(pk=risky_ids[0])
        pos = httpx.get(
            f"{url}/api/query_positions",
            params={"symbol": "SOL-USD"},
            headers={"authorization": f"Bearer {_token(first)}"},
        ).json()[0]
        q, e = Decimal(pos["qty"]), Decimal(pos["entry_price"])
        hm, r = (
            Decimal(pos["holding_margin"]),
            Decimal(pos["maint_margin"]) / Decimal(pos["position_value"]),
        )
        target = ((q * e - hm) / (q * (1 - Decimal("1.3") * r))).quantize(Decimal("0.001"))
        sim.post("/sim/price", json={"symbol": "SOL-USD", "mark_price": str(target)})
        sim.post("/sim/limits", json={"enabled": True})

        stop, measuring = threading.Event(), threading.Event()
        lock = threading.Lock()
        totals = {"syncs": 0, "failures": 0, "requests": 0, "sync_cpu": 0.0, "eval_cpu": 0.0}
        # CPU by kind of sync, told apart by its REST calls: (syncs, CPU seconds).
        kinds = {kind: [0, 0.0] for kind in KINDS}
        for venue in venues:
            totals[f"requests_{venue}"] = 0
        venue_of = dict(ExchangeAccount.objects.values_list("pk", "venue"))
        # Worker processes, as Celery's prefork pool runs tasks (no GIL shared between them).
        spawn = get_context("spawn")
        pool = ProcessPoolExecutor(6, mp_context=spawn, initializer=_worker_init)
        # The sync_urgent queue's own worker: syncs of accounts near liquidation, alert batches.
        urgent_pool = ProcessPoolExecutor(2, mp_context=spawn, initializer=_worker_init)
        for each, size in ((pool, 6), (urgent_pool, 2)):
            for warming in [each.submit(_started) for _ in range(size)]:
                warming.result()
        inflight: set[int] = set()

        def done(account_id: int, future: Future[tuple[str, float, int]]) -> None:
            inflight.discard(account_id)
            outcome, cpu_used, requests = future.result()
            with lock:
                totals["syncs"] += outcome == sync.Outcome.SYNCED
                totals["failures"] += outcome == "transient"
                totals["requests"] += requests
                totals[f"requests_{venue_of[account_id]}"] += requests
                totals["sync_cpu"] += cpu_used
                if outcome == sync.Outcome.SYNCED and measuring.is_set():
                    kind = kinds[_kind(requests)]
                    kind[0] += 1
                    kind[1] += cpu_used

        def batcher() -> None:
            # Stands in for the countdown of `portfolio.evaluate_synced`: a batch runs
            # COALESCE_S after the first sync that scheduled it.
            client = redis_client()
            while not stop.is_set():
                if not client.exists(alert_batches.SCHEDULED_KEY):
                    time.sleep(0.02)
                    continue
                time.sleep(alert_batches.COALESCE_S)
                cpu_used = urgent_pool.submit(_evaluate_in_worker).result()
                with lock:
                    totals["eval_cpu"] += cpu_used

        redis_client().delete(alert_batches.DUE_KEY, alert_batches.SCHEDULED_KEY)

        # Each venue within its own budget for a dispatch every 0.5 s, as `dispatch_syncs` plans.
        budgets = dispatch.venue_budgets(0.5, cap_per_second=45)

        def dispatcher() -> None:
            while not stop.is_set():
                due = sync.due_accounts(timezone.now(), limit=200, request_budget=budgets)
                for account_id, urgent in due:
                    if account_id in inflight:
                        continue
                    inflight.add(account_id)
                    venue = venue_of[account_id]
                    each = urgent_pool if urgent else pool
                    future = each.submit(_sync_in_worker, account_id, venue)
                    future.add_done_callback(partial(done, account_id))
                time.sleep(0.5)

        threading.Thread(target=batcher, daemon=True).start()
        thread = threading.Thread(target=dispatcher, daemon=True)
        started = time.monotonic()
        thread.start()
        # Warm-up: every account's first (full backfill) sync.
        while time.monotonic() - started < warmup_cap:
            synced = SyncState.objects.filter(last_success_at__isnull=False).count()
            if synced == n_all:
                break
            time.sleep(1)
        warmup = time.monotonic() - started
        # Settle: linking 1,000 accounts at once leaves a backlog behind the backfill; measure the
        # steady state, once no account is more than 10 s overdue.
        from datetime import timedelta

        while time.monotonic() - started < warmup_cap * 2:
            late = timezone.now() - timedelta(seconds=10)
            if not SyncState.objects.filter(next_due_at__lt=late).exists():
                break
            time.sleep(1)
        settle = time.monotonic() - started - warmup
        # Every account was backfilled within the warm-up, so their periodic full reads would all
        # fall due together, and none within a short window. Spread them over their periods, as
        # accounts linked over days are, so the window holds its steady-state share of them.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE portfolio_syncstate SET last_full_sync_at = now() - make_interval("
                "secs => random() * CASE WHEN idle THEN %s ELSE %s END)",
                [sync.IDLE_FULL_SYNC_EVERY.total_seconds(), sync.FULL_SYNC_EVERY.total_seconds()],
            )

        def rows() -> int:
            return sum(
                m.objects.count()
                for m in (Trade, Order, Position, PositionSnapshot, BalanceSnapshot)
            )

        with lock:
            before = dict(totals)
        refused0 = _perpex_refused(perpex_url)
        trading_stop = threading.Event()
        trading: dict[str, float] = {}
        trader = threading.Thread(
            target=lambda: trading.update(_perpex_trader(perpex_url, traded_keys, trading_stop)),
            daemon=True,
        )
        if traded_keys:
            trader.start()
        rows0, t0 = rows(), time.monotonic()
        measuring.set()
        ages: list[float] = []
        risky_ages: list[float] = []
        venue_ages: dict[str, list[float]] = {venue: [] for venue in venues}
        while time.monotonic() - t0 < seconds:
            now = timezone.now()
            for account_id, last in SyncState.objects.values_list("account_id", "last_success_at"):
                age = (now - last).total_seconds() if last else float("inf")
                ages.append(age)
                venue_ages[venue_of[account_id]].append(age)
                if account_id in risky_ids:
                    risky_ages.append(age)
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        trading_stop.set()
        if traded_keys:
            trader.join()
        refused = _perpex_refused(perpex_url) - refused0
        with lock:
            spent = {k: totals[k] - before[k] for k in totals}
            measuring.clear()
        stop.set()
        thread.join()
        pool.shutdown(wait=True)
        urgent_pool.shutdown(wait=True)
        syncs, cpu, evals = spent["syncs"], spent["sync_cpu"], spent["eval_cpu"]
        ages.sort()
        per_venue: dict[str, float] = {}
        for venue, seen in venue_ages.items():
            seen.sort()
            per_venue[f"{venue}_p99_age"] = seen[int(len(seen) * 0.99) - 1] if seen else 0
            per_venue[f"{venue}_rps"] = spent[f"requests_{venue}"] / elapsed
        return {
            "accounts": n_all,
            "perpex_429": refused,
            **trading,
            "perpex_429_total": _perpex_refused(perpex_url),
            **per_venue,
            "warmup_s": warmup,
            "settle_s": settle,
            "rps": spent["requests"] / elapsed,
            "errors": spent["failures"],
            "p99_age": ages[int(len(ages) * 0.99) - 1] if ages else 0,
            "risky_max_age": max(risky_ages, default=0),
            "risky_p50_age": statistics.median(risky_ages) if risky_ages else 0,
            "cpu_ms_per_sync": (cpu + evals) / syncs * 1000 if syncs else 0,
            "eval_ms_per_sync": evals / syncs * 1000 if syncs else 0,
            "syncs_per_s": syncs / elapsed,
            "rows_per_s": (rows() - rows0) / elapsed,
            **{
                f"{kind}_ms": cpu_s / count * 1000 if count else 0
                for kind, (count, cpu_s) in kinds.items()
            },
            **{f"{kind}_n": count for kind, (count, _) in kinds.items()},
        }
    finally:
        for child in (proc, perpex_proc):
            if child is not None:
                child.terminate()
                child.wait(timeout=10)


def _perpex_accounts(owner: object, n: int, url: str) -> tuple[list[int], list[str]]:
    """``n`` PerpEx accounts on the simulator at ``url``, linked straight to the database, with
    the StandX mix: 0.5 % 10x isolated SOL longs brought to ~1.3x health, 5 % BTC holders, the
    rest flat. Returns the risky ones' ids, and the keys of those holding positions (the
    busiest syncs: the trading load goes on these keys)."""
    from bench.linked import perpex_linked
    from exchange_common.ratelimit import NoRateLimit
    from perpex.keys import ApiKey
    from perpex.rest import OrderRequest, PerpExClient

    sim = httpx.Client(base_url=url, timeout=30)
    sim.post("/sim/pause", json={"paused": True})
    risky_n, holders_n = max(1, n // 200), max(1, n // 20)
    risky: list[int] = []
    traded: list[str] = []
    position = None
    for i in range(n):
        acct = sim.post("/sim/accounts", json={"deposit": "10000"}).json()
        if i < risky_n + holders_n:
            traded.append(acct["api_key"])
            key = ApiKey(acct["api_key"])
            with PerpExClient(key, api_url=url, rate_limiter=NoRateLimit()) as c:
                if i < risky_n:
                    c.place_order(
                        OrderRequest(
                            "SOL-USD",
                            "buy",
                            "market",
                            Decimal(20),
                            leverage=10,
                            margin_mode="isolated",
                        )
                    )
                    position = next(p for p in c.account().positions if p.symbol == "SOL-USD")
                else:
                    c.place_order(OrderRequest("BTC-USD", "buy", "market", Decimal("0.01")))
        account = perpex_linked(owner, f"perpex bench {i}", url, acct)  # type: ignore[arg-type]
        if i < risky_n:
            risky.append(account.pk)
    # Health 1.3 (equity / maintenance) for the 10x SOL longs: polled every second from now on.
    assert position is not None
    assert position.margin is not None
    assert position.maintenance_margin is not None
    assert position.mark_price
    q, e, hm = position.size, position.entry_price, position.margin
    r = position.maintenance_margin / (q * position.mark_price)
    target = ((q * e - hm) / (q * (1 - Decimal("1.3") * r))).quantize(Decimal("0.01"))
    sim.post("/sim/price", json={"symbol": "SOL-USD", "mark_price": str(target)})
    return risky, traded


def _perpex_trader(url: str, keys: list[str], stop: threading.Event) -> dict[str, float]:
    """Trading beside the sync on the same keys, through the trading path's budget (the key's
    whole budget, shared in Redis): a resting BTC-USD buy far below the mark, then its cancel,
    on each key in turn, four a second. Returns how many, how many failed (a 429 or a refused
    budget), and the p50 / p99 of a place-and-cancel (budget waits included)."""
    from perpex.keys import ApiKey
    from perpex.rest import OrderRequest, PerpExClient
    from venues import budget, registry

    limiter = budget.shared(registry.adapter("perpex"), "all")
    mark = Decimal(httpx.get(f"{url}/sim/state", timeout=10).json()["marks"]["BTC-USD"])
    price = (mark / 2).quantize(Decimal(1))
    took: list[float] = []
    failed = 0
    i = 0
    while not stop.is_set():
        key = ApiKey(keys[i % len(keys)])
        i += 1
        started = time.perf_counter()
        try:
            with PerpExClient(key, api_url=url, rate_limiter=limiter, max_retries=0) as c:
                order = c.place_order(
                    OrderRequest("BTC-USD", "buy", "limit", Decimal("0.001"), price)
                )
                c.cancel_order(order.id)
        except Exception:
            failed += 1
        else:
            took.append(time.perf_counter() - started)
        stop.wait(0.25)
    took.sort()
    return {
        "trades": len(took) + failed,
        "trade_failures": failed,
        "trade_p50_ms": statistics.median(took) * 1000 if took else 0,
        "trade_p99_ms": took[int(len(took) * 0.99) - 1] * 1000 if took else 0,
    }


def _perpex_refused(url: str) -> int:
    """The PerpEx simulator's 429s so far (0 without one)."""
    if not url:
        return 0
    return int(httpx.get(f"{url}/sim/state", timeout=10).json()["rate_limited"])


KINDS = ("quiet", "steady", "full")


def _kind(requests: int) -> str:
    """A flat account's balance check is 1 call, a steady read 3, a full read 5 or more."""
    return "quiet" if requests <= 1 else "steady" if requests <= 3 else "full"


def _worker_init() -> None:
    """A worker process: Django on the bench database (the environment is inherited), with its
    connections open and its modules imported, as a Celery worker is before its first task."""
    import django

    django.setup()
    from django.db import connection

    from exchange_common.transport import shared_transport
    from portfolio.sync import pipeline as sync
    from standx_web.redis_client import redis_client

    connection.ensure_connection()
    for venue in VENUES:
        sync.shared_rate_limiter(venue)
    shared_transport()
    redis_client().ping()


def _started() -> None:
    time.sleep(0.5)  # long enough that every process of the pool gets one


def _sync_in_worker(account_id: int, venue: str) -> tuple[str, float, int]:
    """One `account_sync` in a worker: (outcome, CPU seconds, REST requests)."""
    from exchange_common.ratelimit import CountingLimiter
    from portfolio.sync import pipeline as sync

    counter = CountingLimiter(sync.shared_rate_limiter(venue))
    cpu_start = time.thread_time()
    try:
        outcome = sync.account_sync(account_id, limiter=counter).value
    except sync.TransientSyncError:
        outcome = "transient"
    return outcome, time.thread_time() - cpu_start, counter.granted


def _evaluate_in_worker() -> float:
    """One alert batch (what `portfolio.evaluate_synced` runs); returns its CPU seconds."""
    from portfolio.alerts import batches as alert_batches

    cpu_start = time.thread_time()
    alert_batches.alerts_evaluate_queued()
    return time.thread_time() - cpu_start


def _token(account: object) -> str:
    from accounts.credentials import credentials_open

    return credentials_open(account)["standx_token"]  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup-cap", type=float, default=400)
    parser.add_argument(
        "--venues",
        default="standx",
        help="comma-separated: standx, or standx,perpex (the accounts split evenly)",
    )
    args = parser.parse_args()
    venues = tuple(v.strip() for v in args.venues.split(",") if v.strip())
    if "standx" not in venues or set(venues) - set(VENUES):
        parser.error(f"--venues takes standx, optionally with perpex, not {args.venues!r}")
    bench_django()
    print(
        f"{'accounts':>8} {'warm-up':>8} {'settle':>7} {'req/s':>7} {'errors':>6} {'p99 age':>8} "
        f"{'risky max':>9} {'risky p50':>9} {'CPU ms/sync':>11} {'of it alerts':>12} "
        f"{'syncs/s':>8} {'rows/s':>7}"
    )
    for n in args.accounts:
        r = run_one(n, args.seconds, args.warmup_cap, venues)
        print(
            f"{r['accounts']:>8.0f} {r['warmup_s']:>7.0f}s {r['settle_s']:>6.0f}s "
            f"{r['rps']:>7.1f} {r['errors']:>6.0f} "
            f"{r['p99_age']:>7.1f}s {r['risky_max_age']:>8.1f}s {r['risky_p50_age']:>8.1f}s "
            f"{r['cpu_ms_per_sync']:>11.1f} {r['eval_ms_per_sync']:>12.1f} "
            f"{r['syncs_per_s']:>8.1f} {r['rows_per_s']:>7.1f}",
            flush=True,
        )
        print(
            "         CPU ms by kind of sync: "
            + ", ".join(f"{k} {r[f'{k}_ms']:.1f} ({r[f'{k}_n']:.0f} syncs)" for k in KINDS),
            flush=True,
        )
        if len(venues) > 1:
            print(
                "         by venue: "
                + ", ".join(
                    f"{v} {r[f'{v}_rps']:.1f} req/s, p99 age {r[f'{v}_p99_age']:.1f}s"
                    for v in venues
                )
                + f"; PerpEx 429s {r['perpex_429']:.0f} measured,"
                + f" {r['perpex_429_total']:.0f} in all",
                flush=True,
            )
        if "trades" in r:
            print(
                f"         trading beside the sync on PerpEx keys: {r['trades']:.0f} place+cancel,"
                f" {r['trade_failures']:.0f} failed, p50 {r['trade_p50_ms']:.0f} ms,"
                f" p99 {r['trade_p99_ms']:.0f} ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
