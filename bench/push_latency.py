"""Push latency: from a simulator price move that crosses a critical level to the push service.

The set-up is ``bench/alert_latency.py``'s: a fresh simulator (paused, so only our moves change
SOL's mark) and N users, each with one linked account holding an isolated SOL long, so every
SOL mark re-evaluates all N accounts; one in a hundred sits at 10x near its critical level. Each
of those risky users has one device subscribed to push, at a local push-service stand-in
(``tests/pushservice.py``) that verifies the VAPID JWT and decrypts every body, as a real one
would. Real processes: ``manage.py pricestream`` (stream, rules, writes, queueing the pushes
after commit) and one Celery worker on the urgent queue (``-Q sync_urgent --concurrency 1``, as
``make run`` and docker-compose start it), which sends with pywebpush.

Each round moves the mark below the critical level (every risky user's alert fires) and back
(they resolve); a sample is the time from the ``/sim/price`` call to the stand-in receiving one
device's encrypted request. Prints p50/p99/max per N.

    .venv/bin/python bench/push_latency.py [--accounts 100 1000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.alert_latency import SYMBOL, latency_rig, summary  # noqa: E402
from bench.sync_scale import _bench_database  # noqa: E402
from tests.pushservice import PushServer, PushService  # noqa: E402


def subscribe_risky(service: PushService, n: int) -> int:
    """A device for each risky user (the first n // 100); returns how many."""
    from accounts.models import User
    from portfolio.alerts import push

    risky = list(User.objects.order_by("pk")[: max(1, n // 100)])
    for user in risky:
        data = service.subscription(f"u{user.pk}", server_key=push.public_key())
        push.subscription_save(user_id=user.pk, data=data, user_agent="bench")
    return len(risky)


def wait_pushes(service: PushService, count: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while len(service.received) < count:
        if time.monotonic() > deadline:
            raise SystemExit(
                f"{len(service.received)} of {count} pushes arrived; errors: {service.errors[:3]}"
            )
        time.sleep(0.002)


def measure(
    service: PushService, devices: int, sim_url: str, fire: Decimal, recover: Decimal, rounds: int
) -> list[float]:
    latencies: list[float] = []
    warmup = 2  # rounds that open connections and warm caches: not counted
    with httpx.Client(base_url=sim_url, timeout=10) as sim:
        for round_no in range(rounds + warmup):
            for mark in (fire, recover):
                already = len(service.received)
                started = time.monotonic()
                sim.post("/sim/price", json={"symbol": SYMBOL, "mark_price": str(mark)})
                wait_pushes(service, already + devices)
                if round_no >= warmup:
                    latencies += [(p.at - started) * 1000 for p in service.received[already:]]
                time.sleep(0.3)
    return latencies


def run_one(n: int, rounds: int) -> dict[str, float]:
    with latency_rig(n) as rig, PushServer() as service:
        devices = subscribe_risky(service, n)
        worker = ["-m", "celery", "-A", "standx_web", "worker", "-Q", "sync_urgent"]
        rig.start([*worker, "--concurrency", "1", "-l", "WARNING"])
        rig.start(["manage.py", "pricestream"])
        time.sleep(6)  # the worker starts; the price stream subscribes to the held symbol
        latencies = measure(service, devices, rig.sim_url, rig.fire, rig.recover, rounds)
        assert service.errors == [], service.errors[:3]
    return {"accounts": n, "devices": devices, **summary(latencies)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    _bench_database()
    from standx_web.vapid import generate_private_key

    os.environ.setdefault("VAPID_PRIVATE_KEY", generate_private_key())
    os.environ.setdefault("VAPID_SUBJECT", "mailto:bench@localhost")
    os.environ["WEB_PUSH_ALLOW_ANY_ENDPOINT"] = "1"  # the stand-in is on loopback
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    print(
        f"{'accounts':>8} {'devices':>7} {'samples':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}"
    )
    for n in args.accounts:
        r = run_one(n, args.rounds)
        print(
            f"{r['accounts']:>8.0f} {r['devices']:>7.0f} {r['samples']:>7.0f} {r['p50']:>7.1f} "
            f"{r['p99']:>7.1f} {r['max']:>7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
