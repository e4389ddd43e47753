"""Client throughput: concurrent account polling against a local simulator.

Starts ``python -m standx_sim`` on a free loopback port, funds N accounts, and polls each one
(positions, balance, open orders: one sync cycle's reads) from a thread pool for a fixed time.
Prints requests/s, p50/p99 latency and the client's CPU time per request, twice: with StandX's
published limits enforced by the client's rate limiter (what production gets), and unthrottled
(the simulator's limits off) to show the client's own ceiling. ``--transport httpx`` sends
through httpx's own pool instead of ``exchange_common.transport`` (the comparison that decides
whether the lean pool still earns its keep).

    .venv/bin/python bench/client_throughput.py [--accounts 20] [--seconds 10] [--threads 8]
        [--transport keepalive|httpx]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.simulator import start_sim
from exchange_common.ratelimit import LocalRateLimiter, NoRateLimit, RateLimiter
from exchange_common.transport import KeepAliveTransport
from standx.rest import Credentials, Endpoints, StandXClient


def run(
    url: str,
    accounts: list[Credentials],
    *,
    seconds: float,
    threads: int,
    limiter: RateLimiter,
    transport: str = "keepalive",
) -> dict[str, float]:
    endpoints = Endpoints.for_simulator(url)
    http: httpx.BaseTransport = (
        KeepAliveTransport() if transport == "keepalive" else httpx.HTTPTransport()
    )
    clients = [
        StandXClient(c, endpoints=endpoints, transport=http, rate_limiter=limiter) for c in accounts
    ]
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    errors = 0

    def worker(index: int) -> None:
        nonlocal errors
        i = index
        while time.monotonic() < stop:
            client = clients[i % len(clients)]
            i += threads
            for call in (client.query_positions, client.query_balance, client.query_open_orders):
                started = time.perf_counter()
                try:
                    call()
                except Exception:
                    with lock:
                        errors += 1
                    continue
                elapsed = time.perf_counter() - started
                with lock:
                    latencies.append(elapsed)

    cpu_before, wall_before = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
    http.close()
    ordered = sorted(latencies)
    n = len(ordered)
    return {
        "requests": n,
        "errors": errors,
        "rps": n / wall,
        "p50_ms": statistics.median(ordered) * 1000 if n else 0,
        "p99_ms": ordered[min(n - 1, int(n * 0.99))] * 1000 if n else 0,
        "cpu_us_per_request": cpu / n * 1e6 if n else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--transport", choices=("keepalive", "httpx"), default="keepalive")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    proc, url = start_sim(seed=7)
    try:
        accounts = []
        for _ in range(args.accounts):
            acct = httpx.post(
                f"{url}/sim/accounts", json={"chain": "bsc", "deposit": "10000"}
            ).json()
            accounts.append(Credentials.from_strings(acct["token"], acct["signing_key"]))
        print(
            f"{args.accounts} accounts, {args.threads} threads, {args.seconds:.0f} s per mode, "
            f"{args.transport} transport"
        )
        limited = run(
            url,
            accounts,
            seconds=args.seconds,
            threads=args.threads,
            limiter=LocalRateLimiter(),
            transport=args.transport,
        )
        httpx.post(f"{url}/sim/limits", json={"enabled": False})
        free = run(
            url,
            accounts,
            seconds=args.seconds,
            threads=args.threads,
            limiter=NoRateLimit(),
            transport=args.transport,
        )
        for name, r in (("StandX limits (50 req/s per IP)", limited), ("unthrottled", free)):
            print(
                f"{name:32} {r['rps']:8.1f} req/s  p50 {r['p50_ms']:6.1f} ms  "
                f"p99 {r['p99_ms']:6.1f} ms  client CPU {r['cpu_us_per_request']:6.0f} us/req  "
                f"({r['requests']:.0f} requests, {r['errors']:.0f} errors)"
            )
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
