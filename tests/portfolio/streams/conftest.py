"""Stream workers as real child processes (``manage.py accountstreams``) on the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.conftest import BASE_DIR, child_env

# Seconds, not the production defaults: a dead worker's accounts are free two seconds later.
FAST_STREAMS = {
    "STREAM_HEARTBEAT_SECONDS": "0.3",
    "STREAM_LEASE_SECONDS": "2",
    "STREAM_PING_SECONDS": "1",
    "STREAM_SILENT_SECONDS": "2",
}


def start_stream_worker(**env: str) -> subprocess.Popen[bytes]:
    """``manage.py accountstreams`` in its own process group (so it can be killed outright)."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "accountstreams"],
        cwd=BASE_DIR,
        env=child_env(**{**FAST_STREAMS, **env}),
        start_new_session=True,
    )


def stop_stream_worker(worker: subprocess.Popen[bytes]) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=20)


@pytest.fixture
def stream_workers() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start workers with ``stream_workers(**env)``; every one still running is stopped after."""
    started: list[subprocess.Popen[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        worker = start_stream_worker(**env)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        stop_stream_worker(worker)


@contextmanager
def sim_faults(sim_url: str, *rules: dict[str, Any]) -> Iterator[None]:
    import httpx

    try:
        for rule in rules:
            httpx.post(f"{sim_url}/sim/faults", json=rule, timeout=10).raise_for_status()
        yield
    finally:
        httpx.delete(f"{sim_url}/sim/faults", timeout=10)
