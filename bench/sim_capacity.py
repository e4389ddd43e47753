"""Capacity check of the simulator: requests/s and latency percentiles on 127.0.0.1.

Starts `python -m standx_sim` as a child process on a free loopback port, turns its rate limits
off, creates one funded account with a few orders, then drives it for a bounded time with
concurrent asyncio clients: half public GETs, half authenticated GETs carrying body-signature
headers (empty payload, verified by the server). Prints requests/s and p50/p90/p99.

Two load shapes:
- closed loop (default): `--concurrency` requests always in flight; measures peak throughput.
- open loop (`--rate R`): requests are scheduled at R per second in total and each latency is
  measured from its scheduled time, so a stalled server cannot hide queueing delay.

Two clients: `raw` (default), a minimal HTTP/1.1 keep-alive client on asyncio streams, and
`httpx` (httpx.AsyncClient). httpx spends about 1.5 ms of CPU per request, so on a 2-core machine
it saturates its own core long before the simulator does; `raw` measures the simulator.

    .venv/bin/python bench/sim_capacity.py [--seconds 10] [--concurrency 16] [--rate 1000]
                                            [--client raw|httpx] [--processes 1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import base58
import httpx
from nacl.signing import SigningKey

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = [
    "/api/query_symbol_price?symbol=BTC-USD",
    "/api/query_depth_book?symbol=ETH-USD",
    "/api/query_symbol_info?symbol=SOL-USD",
    "/api/kline/time",
    "/api/query_symbol_market?symbol=BTC-USD",
]
PRIVATE = [
    "/api/query_balance",
    "/api/query_positions",
    "/api/query_open_orders",
    "/api/query_orders?limit=20",
    "/api/query_trades?limit=20",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the simulator exited during start-up")
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the simulator did not become healthy")


def signed_headers(token: str, key: SigningKey) -> dict[str, str]:
    request_id = str(uuid.uuid4())
    timestamp = str(int(time.time() * 1000))
    signature = key.sign(f"v1,{request_id},{timestamp},".encode()).signature
    return {
        "Authorization": f"Bearer {token}",
        "x-request-sign-version": "v1",
        "x-request-id": request_id,
        "x-request-timestamp": timestamp,
        "x-request-signature": base64.b64encode(signature).decode(),
    }


def prepare(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, timeout=10) as http:
        http.post("/sim/limits", json={"enabled": False}).raise_for_status()
        creds: dict[str, Any] = http.post(
            "/sim/accounts", json={"chain": "bsc", "deposit": "100000"}
        ).json()
        key = SigningKey(base58.b58decode(creds["signing_key"]))
        orders = [
            {"symbol": "BTC-USD", "side": "buy", "order_type": "market", "qty": "0.05"},
            {"symbol": "ETH-USD", "side": "sell", "order_type": "market", "qty": "1"},
            {
                "symbol": "BTC-USD",
                "side": "buy",
                "order_type": "limit",
                "qty": "0.01",
                "price": "90000.00",
                "time_in_force": "gtc",
            },
        ]
        for order in orders:
            body = json.dumps(
                {"time_in_force": "ioc", "reduce_only": False, **order}, separators=(",", ":")
            ).encode()
            request_id, timestamp = str(uuid.uuid4()), str(int(time.time() * 1000))
            message = f"v1,{request_id},{timestamp},".encode() + body
            headers = {
                "Authorization": f"Bearer {creds['token']}",
                "Content-Type": "application/json",
                "x-request-sign-version": "v1",
                "x-request-id": request_id,
                "x-request-timestamp": timestamp,
                "x-request-signature": base64.b64encode(key.sign(message).signature).decode(),
            }
            http.post("/api/new_order", content=body, headers=headers).raise_for_status()
        return creds


def pick(i: int, creds: dict[str, Any], key: SigningKey) -> tuple[str, dict[str, str]]:
    if i % 2:
        return PUBLIC[i % len(PUBLIC)], {}
    return PRIVATE[(i // 2) % len(PRIVATE)], signed_headers(creds["token"], key)


class RawConnection:
    """HTTP/1.1 keep-alive GETs over one asyncio stream (responses carry Content-Length)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> RawConnection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def get(self, path: str, headers: dict[str, str]) -> int:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{lines}\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return status

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def drive(
    url: str,
    creds: dict[str, Any],
    seconds: float,
    concurrency: int,
    rate: float | None,
    client: str,
) -> tuple[list[float], int]:
    key = SigningKey(base58.b58decode(creds["signing_key"]))
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors = 0
    start = time.perf_counter()
    deadline = start + seconds
    interval = concurrency / rate if rate else 0.0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as http:

        async def worker(n: int) -> None:
            nonlocal errors
            raw = await RawConnection.open(host, int(port)) if client == "raw" else None
            i = n * 7
            due = start + interval * n / concurrency
            try:
                while True:
                    if rate:
                        delay = due - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                    if time.perf_counter() >= deadline:
                        return
                    i += 1
                    path, headers = pick(i, creds, key)
                    # Open loop: latency counts from the scheduled time, queueing included.
                    started = due if rate else time.perf_counter()
                    try:
                        if raw is not None:
                            status = await raw.get(path, headers)
                        else:
                            status = (await http.get(path, headers=headers)).status_code
                        if status != 200:
                            errors += 1
                    except (httpx.HTTPError, OSError, asyncio.IncompleteReadError):
                        errors += 1
                    latencies.append(time.perf_counter() - started)
                    due += interval
            finally:
                if raw is not None:
                    await raw.close()

        await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return latencies, errors


Job = tuple[str, dict[str, Any], float, int, float | None, str]


def run_client(job: Job) -> tuple[list[float], int]:
    try:
        import uvloop  # the simulator's own loop; optional for the client

        return uvloop.run(drive(*job))
    except ImportError:
        return asyncio.run(drive(*job))


def percentile(sorted_values: list[float], fraction: float) -> float:
    index = min(len(sorted_values) - 1, int(fraction * len(sorted_values)))
    return sorted_values[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--concurrency", type=int, default=16, help="requests in flight per process"
    )
    parser.add_argument("--processes", type=int, default=1, help="client processes")
    parser.add_argument("--rate", type=float, default=None, help="open loop: requests/s in total")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "standx_sim",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--seed",
            "1",
        ],
        cwd=ROOT,
    )
    try:
        wait_healthy(url, proc)
        creds = prepare(url)
        rate = args.rate / args.processes if args.rate else None
        job: Job = (url, creds, args.seconds, args.concurrency, rate, args.client)
        started = time.monotonic()
        if args.processes == 1:
            results = [run_client(job)]
        else:
            with multiprocessing.Pool(args.processes) as pool:
                results = pool.map(run_client, [job] * args.processes)
        elapsed = time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(err for _, err in results)
    total = len(latencies)
    shape = f"open loop at {args.rate:.0f}/s" if args.rate else "closed loop"
    print(f"client:       {args.client}, {shape}, {args.processes} x {args.concurrency} in flight")
    print(f"requests:     {total} in a {args.seconds:.0f} s window ({errors} errors)")
    print(
        f"throughput:   {total / args.seconds:.0f} requests/s (wall {elapsed:.1f} s incl. start-up)"
    )
    for label, fraction in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99)):
        print(f"latency {label}:  {percentile(latencies, fraction) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
