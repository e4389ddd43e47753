"""Start a throwaway simulator (`standx_sim`, `perpex_sim`) on a free loopback port (benchmarks)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sim(seed: int) -> tuple[subprocess.Popen[bytes], str]:
    """The simulator's process and base URL, once it answers /api/health (30 s at most)."""
    return _start("standx_sim", "/api/health", seed)


def start_perpex_sim(seed: int) -> tuple[subprocess.Popen[bytes], str]:
    """`python -m perpex_sim` (its 120 requests a minute per key enforced), once it answers."""
    return _start("perpex_sim", "/api/v1/markets", seed)


def _start(module: str, ready_path: str, seed: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            module,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--seed",
            str(seed),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}{ready_path}", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{module} did not start")
