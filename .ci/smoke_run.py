"""Smoke test of `make run`: start it, wait for /healthz = 200, log in as the demo user, open the
live WebSocket, press Ctrl-C, and check that every process it started is gone."""

from __future__ import annotations

import asyncio
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parent.parent
DEADLINE_S = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) for every process."""
    table: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        table[int(entry.name)] = (ppid, cmdline)
    return table


def started_by(root_pid: int) -> set[int]:
    """The descendants of root_pid, plus the embedded servers (they daemonize away from it)."""
    table = process_table()
    found, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, _) in table.items():
            if ppid == parent and pid not in found:
                found.add(pid)
                frontier.append(pid)
    # Their process titles hide their folders; their pid files do not.
    for pid_file in (ROOT / "var" / "redis" / "redis.pid", ROOT / "var" / "pg" / "postmaster.pid"):
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            continue
        if pid in table:
            found.add(pid)
    return found


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def main() -> int:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PORT": str(port),
        "SIM_PORT": str(free_port()),
        "PERPEX_SIM_PORT": str(free_port()),
        "OCX_SIM_PORT": str(free_port()),
    }
    proc = subprocess.Popen(["make", "run"], cwd=ROOT, env=env, start_new_session=True)
    started = time.monotonic()
    try:
        status = None
        while time.monotonic() - started < DEADLINE_S:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=3) as response:  # noqa: S310
                    status = response.status
                    break
            except urllib.error.HTTPError as exc:
                status = exc.code
            except OSError:
                pass
            if proc.poll() is not None:
                print(f"make run exited early with {proc.returncode}")
                return 1
            time.sleep(0.5)
        print(f"/healthz -> {status} after {time.monotonic() - started:.1f}s")
        if status != 200:
            return 1

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(f"{base}/accounts/login/").read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, "no CSRF token on the login page"
        form = urllib.parse.urlencode(
            {"username": "demo", "password": "demo", "csrfmiddlewaretoken": token.group(1)}
        ).encode()
        overview = opener.open(f"{base}/accounts/login/", data=form).read().decode()
        assert "Signed in as <strong>demo</strong>" in overview, "demo login failed"
        assert "Demo (simulated)" in overview, "the demo account is not linked"
        assert "PerpEx demo (simulated)" in overview, "the PerpEx demo account is not linked"
        assert "OCX demo (simulated)" in overview, "the OCX demo wallet is not linked"
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        push_key = re.search(r'name="push-key" content="([^"]+)"', overview)
        assert push_key, "the demo has no VAPID key: push is off"
        # Contract 8: the service worker and the manifest at the site root.
        with opener.open(f"{base}/sw.js") as sw:
            assert sw.headers["Service-Worker-Allowed"] == "/", "sw.js without its scope header"
            assert push_key.group(1) in sw.read().decode(), "sw.js has another key than the page"
        with opener.open(f"{base}/manifest.webmanifest") as manifest:
            assert json.loads(manifest.read())["display"] == "standalone"
        print("service worker and manifest served; push key", push_key.group(1)[:12] + "...")

        async def open_socket() -> dict[str, object]:
            headers = {"Cookie": cookie, "Origin": base}
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/live/", additional_headers=headers
            ) as ws:
                return json.loads(await asyncio.wait_for(ws.recv(), 10))

        message = asyncio.run(open_socket())
        assert message["type"] == "state", message
        print("WebSocket: state received for", message["state"]["username"])  # type: ignore[index]

        print(f"processes started by make run: {len(started_by(proc.pid))}")
    finally:
        if proc.poll() is None:
            pids_before = started_by(proc.pid)
            os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the foreground group
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                print("make run did not stop within 60 s")
                os.killpg(proc.pid, signal.SIGKILL)
                return 1
        else:
            pids_before = set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(alive(p) for p in pids_before):
        time.sleep(0.2)
    left = sorted(p for p in pids_before if alive(p))
    if left:
        table = process_table()
        for pid in left:
            print("still running:", pid, table.get(pid, (0, "?"))[1])
        return 1
    print("make run stopped; every process it started is gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
