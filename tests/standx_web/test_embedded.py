"""The embedded PostgreSQL and Redis start under a var/ folder, serve, and stop cleanly."""

from __future__ import annotations

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


def _processes_under(folder: Path) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if str(folder) in line and "ps -eo" not in line]


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
        import json

        urls = json.loads(proc.stdout.readline())
        with psycopg.connect(urls["db"]) as conn:
            assert conn.execute("SELECT current_database()").fetchone() == ("standx",)
        assert redis.Redis.from_url(urls["redis"]).ping() is True
        assert (var / "pg" / "PG_VERSION").exists()
        assert _processes_under(var), "the servers should be running under the var folder"
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert _processes_under(var) == []
