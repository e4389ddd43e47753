"""The embedded PostgreSQL and Redis start under a var/ folder, serve, and stop cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import redis

BASE_DIR = Path(__file__).resolve().parents[2]

SCRIPT = """
import json, sys
from standx_web import embedded
print(json.dumps({"db": embedded.database_url(), "redis": embedded.redis_url()}), flush=True)
sys.stdin.readline()  # hold the servers until the test says stop
embedded.stop_owned()
"""


def _server_pids(var: Path) -> list[int]:
    """The pids the servers wrote (their process titles hide their folders)."""
    files = (var / "redis" / "redis.pid", var / "pg" / "postmaster.pid")
    return [int(f.read_text().splitlines()[0]) for f in files if f.exists()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_it_starts_real_postgres_and_redis_and_stops_them(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = {**os.environ, "STANDX_VAR_DIR": str(var)}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT],
        cwd=BASE_DIR,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdin is not None
        urls = json.loads(proc.stdout.readline())
        with psycopg.connect(urls["db"]) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("standx",)
        assert redis.Redis.from_url(urls["redis"]).ping() is True
        assert (var / "pg" / "PG_VERSION").exists()
        pids = _server_pids(var)
        assert len(pids) == 2
        assert all(_alive(pid) for pid in pids)
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not any(_alive(pid) for pid in pids)
