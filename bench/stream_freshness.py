"""Account streams at scale: how fresh the database stays, and what it costs.

For each account count: a fresh simulator with StandX's per-IP REST limit on, that many funded
accounts linked straight into a `standx_bench` database, and one `manage.py accountstreams`
worker holding one authenticated stream per account. Every account's first full read (owed
after its stream connects) runs as the warm-up, unmeasured. Then for ``--seconds`` random
accounts trade at ``--orders-per-second`` (market orders that open, grow, shrink and close
positions), while the dispatcher runs here every 0.5 s within the sync's REST budget, as beat
and Celery would (the reconciliations: new positions the stream cannot price yet, reconnects,
and the slow cadence). Printed:

- event-to-row age p50 / p99 / max: from the simulator's time of the change (the frame's
  ``updated_at`` / ``created_at``) to the commit of the batch that stored it;
- REST requests per second the dispatcher's syncs used (the simulator's own calls to trade are
  not counted);
- CPU per event: the worker process's CPU time over the window divided by the events it stored;
- memory per stream: the worker's resident memory with every stream open, less its memory
  before it held any, divided by the streams.

    .venv/bin/python bench/stream_freshness.py [--accounts 1000 5000] [--seconds 60]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.simulator import start_sim  # noqa: E402
from bench.sync_scale import bench_django  # noqa: E402

SIZES = {"BTC-USD": "0.001", "ETH-USD": "0.01", "SOL-USD": "0.5"}


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def _proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_one(n: int, seconds: float, orders_per_second: float) -> dict[str, float]:
    from django.core.management import call_command
    from django.db import close_old_connections
    from django.utils import timezone

    from accounts.models import User
    from bench.linked import standx_linked
    from exchange_common.ratelimit import CountingLimiter, NoRateLimit
    from portfolio.models import StreamLease, StreamWorker
    from portfolio.streams import leases
    from portfolio.sync import pipeline as sync
    from standx.rest import Credentials, Endpoints, StandXClient

    call_command("flush", interactive=False, verbosity=0)
    proc, url = start_sim(seed=21)
    figures_file = Path(tempfile.mkstemp(suffix=".json")[1])
    env = {
        **os.environ,
        "STREAM_HEARTBEAT_SECONDS": "0.5",
        "STREAM_WORKER_CAPACITY": str(n + 10),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "accountstreams", "--figures", str(figures_file)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    try:
        sim = httpx.Client(base_url=url, timeout=30)
        sim.post("/sim/pause", json={"paused": True})
        sim.post("/sim/limits", json={"enabled": False})  # setting up is not measured
        while not StreamWorker.objects.exists():  # started, holding nothing yet
            time.sleep(0.2)
        rss_idle = _proc_rss_mb(worker.pid)
        owner = User.objects.create_user("bench")
        creds = []
        for i in range(n):
            acct = sim.post("/sim/accounts", json={"chain": "bsc", "deposit": "10000"}).json()
            standx_linked(owner, f"bench {i}", url, acct, trading=False)
            creds.append(Credentials.from_strings(acct["token"], acct["signing_key"]))
        leases.leases_ensure()
        deadline = time.monotonic() + 120 + n / 20
        while StreamLease.objects.filter(connected_at__isnull=False).count() < n:
            if time.monotonic() > deadline:
                raise SystemExit("the streams did not all connect")
            time.sleep(0.5)
        rss_streams = _proc_rss_mb(worker.pid)
        # Warm-up: the full read each connection owes, unmeasured and unlimited.
        for account_id in sync.due_account_ids(timezone.now(), n + 10):
            sync.account_sync(account_id, limiter=NoRateLimit())
        sim.post("/sim/limits", json={"enabled": True})
        sim.post("/sim/pause", json={"paused": False})

        stop = threading.Event()
        counter = CountingLimiter(sync.shared_rate_limiter("standx"))
        failures = [0]

        def dispatch() -> None:
            budget = 22  # 45 req/s shared by the 0.5 s dispatches, as settings say
            while not stop.is_set():
                started = time.monotonic()
                due = sync.due_account_ids(timezone.now(), 200, request_budget=budget)
                for account_id in due:
                    try:
                        sync.account_sync(account_id, limiter=counter)
                    except sync.TransientSyncError:
                        failures[0] += 1
                close_old_connections()
                stop.wait(max(0.0, 0.5 - (time.monotonic() - started)))

        def trade() -> None:
            rng = random.Random(5)
            endpoints = Endpoints.for_simulator(url)
            while not stop.is_set():
                c = rng.choice(creds)
                symbol = rng.choice(sorted(SIZES))
                side = rng.choice(["buy", "sell"])
                with StandXClient(c, endpoints=endpoints, rate_limiter=NoRateLimit()) as client:
                    try:
                        client.new_order(
                            symbol=symbol, side=side, order_type="market", qty=SIZES[symbol]
                        )
                    except Exception:
                        continue
                stop.wait(1 / orders_per_second)

        events_before = StreamWorker.objects.get().events
        cpu_before = _proc_cpu_s(worker.pid)
        threads = [threading.Thread(target=dispatch), threading.Thread(target=trade)]
        for t in threads:
            t.start()
        start = time.monotonic()
        time.sleep(seconds)
        stop.set()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - start
        time.sleep(2)  # the last batches
        cpu = _proc_cpu_s(worker.pid) - cpu_before
        events = StreamWorker.objects.get().events - events_before
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
        ages = json.loads(figures_file.read_text())["ages"]
        return {
            "accounts": n,
            "events": events,
            "events_per_s": events / elapsed,
            "age_p50_ms": _percentile(ages, 0.5) * 1000,
            "age_p99_ms": _percentile(ages, 0.99) * 1000,
            "age_max_ms": max(ages) * 1000,
            "age_mean_ms": statistics.fmean(ages) * 1000,
            "rest_per_s": counter.granted / elapsed,
            "rest_failures": failures[0],
            "cpu_ms_per_event": cpu * 1000 / max(1, events),
            "worker_cpu_pct": cpu * 100 / elapsed,
            "kb_per_stream": (rss_streams - rss_idle) * 1024 / n,
            "worker_rss_mb": rss_streams,
        }
    finally:
        if worker.poll() is None:
            worker.kill()
        proc.kill()
        figures_file.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[1000])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--orders-per-second", type=float, default=5)
    args = parser.parse_args()
    bench_django()
    for n in args.accounts:
        r = run_one(n, args.seconds, args.orders_per_second)
        print(
            f"{n} accounts, {r['events']:.0f} events ({r['events_per_s']:.1f}/s): "
            f"event-to-row age p50 {r['age_p50_ms']:.0f} ms, p99 {r['age_p99_ms']:.0f} ms, "
            f"max {r['age_max_ms']:.0f} ms; REST {r['rest_per_s']:.1f} req/s "
            f"({r['rest_failures']} transient failures); CPU {r['cpu_ms_per_event']:.2f} ms per "
            f"event ({r['worker_cpu_pct']:.0f} % of a core); {r['kb_per_stream']:.0f} KB per "
            f"stream (worker RSS {r['worker_rss_mb']:.0f} MB)",
            flush=True,
        )


if __name__ == "__main__":
    main()
