"""Starts and stops everything for ``make run`` and ``make test``.

``python -m standx_web.launcher run``  the demo: embedded (or configured) PostgreSQL and Redis,
                                       migrations, daphne, a Celery worker and beat; Ctrl-C stops
                                       every process it started.
``python -m standx_web.launcher test`` the test suite on real PostgreSQL and Redis: the main
                                       suite, then the browser tests in their own pytest run.

This module must not import Django settings: it decides the environment the settings will read.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

from standx_web import embedded
from standx_web.vapid import generate_private_key

BASE_DIR = embedded.BASE_DIR
VAR_DIR = embedded.VAR_DIR
PY = sys.executable


def _log(message: str) -> None:
    print(f"[standx] {message}", flush=True)


def _persistent_secret(name: str, make: Callable[[], str]) -> str:
    """A development secret generated once and kept under var/ (never committed)."""
    path = VAR_DIR / name
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    value: str = make()
    path.write_text(value)
    path.chmod(0o600)
    return value


def _ensure_database_exists(url: str) -> None:
    """Create the database named in a configured DATABASE_URL if the server lacks it."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not found:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                _log(f"created database {name}")
    except psycopg.Error as exc:
        _log(f"could not check database {name!r} exists ({type(exc).__name__}); continuing")


def prepare_services() -> None:
    """Point DATABASE_URL / REDIS_URL at configured servers, or start the embedded ones."""
    if os.environ.get("DATABASE_URL"):
        _log("PostgreSQL: using DATABASE_URL")
        _ensure_database_exists(os.environ["DATABASE_URL"])
    else:
        os.environ["DATABASE_URL"] = embedded.database_url()
        _log(f"PostgreSQL: embedded server under {VAR_DIR / 'pg'}")
    if os.environ.get("REDIS_URL"):
        _log("Redis: using REDIS_URL")
    else:
        os.environ["REDIS_URL"] = embedded.redis_url()
        _log(f"Redis: embedded server on {os.environ['REDIS_URL']}")


def _manage(*args: str) -> None:
    subprocess.run([PY, "manage.py", *args], cwd=BASE_DIR, check=True)


class Supervisor:
    """Child processes in their own process groups, stopped together."""

    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.Popen(args, cwd=BASE_DIR, start_new_session=True, env=full_env)
        self.children.append((name, proc))
        _log(f"started {name} (pid {proc.pid})")

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.children:
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def stop(self) -> None:
        # Each main process first (Celery's warm shutdown lets its pool finish the task at hand),
        # then whatever is left of its process group.
        for _, proc in self.children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, proc in self.children:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _log(f"{name} did not stop in time; killing it")
            # Whatever is left in the group (pool children) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.children.clear()


def _wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own URL
                if response.status < 500:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def demo_site_url(host: str, port: str) -> str:
    """The demo's own origin; a wildcard bind address is reached as localhost."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - compared, not bound
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def run_demo() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = os.environ.get("PORT", "8000")
    sim_port = os.environ.get("SIM_PORT", "8100")
    sim_url = f"http://127.0.0.1:{sim_port}"
    perpex_port = os.environ.get("PERPEX_SIM_PORT", "8101")
    perpex_url = f"http://127.0.0.1:{perpex_port}"
    ocx_port = os.environ.get("OCX_SIM_PORT", "8102")
    ocx_url = f"http://127.0.0.1:{ocx_port}"
    env_defaults = {
        "STANDX_DEMO": "1",
        "SECRET_KEY": _persistent_secret("secret_key", lambda: secrets.token_urlsafe(50)),
        "CREDENTIAL_KEYS": _persistent_secret(
            "credential_key", lambda: base64.b64encode(os.urandom(32)).decode()
        ),
        # One stable VAPID pair: the browsers' push subscriptions are bound to it.
        "VAPID_PRIVATE_KEY": _persistent_secret("vapid_private_key", generate_private_key),
        "VAPID_SUBJECT": "mailto:demo@localhost",
        # The demo is served over plain HTTP on localhost; deployments keep the secure defaults.
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        # The demo's exchange is the simulator (contract 1).
        "STANDX_PERPS_URL": sim_url,
        "STANDX_AUTH_URL": sim_url,
        "STANDX_WS_URL": f"ws://127.0.0.1:{sim_port}/ws-stream/v1",
        "STANDX_WS_API_URL": f"ws://127.0.0.1:{sim_port}/ws-api/v1",
        # And PerpEx's is its simulator: the REST API and the WebSocket on one origin.
        "PERPEX_API_URL": perpex_url,
        "PERPEX_WS_URL": f"ws://127.0.0.1:{perpex_port}/ws",
        # And OCX's: REST and SSE on one origin (its SIWE messages name that host).
        "OCX_API_URL": ocx_url,
        # Links in alert and verification emails point at this server, on whatever PORT.
        "SITE_URL": demo_site_url(host, port),
    }
    for key, value in env_defaults.items():
        os.environ.setdefault(key, value)

    supervisor = Supervisor()
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    code = 0
    try:
        prepare_services()
        supervisor.start(
            "simulator",
            [
                PY,
                "-m",
                "standx_sim",
                "--host",
                "127.0.0.1",
                "--port",
                sim_port,
                "--scenario",
                "demo",
            ],
        )
        supervisor.start(
            "PerpEx simulator",
            [
                PY,
                "-m",
                "perpex_sim",
                "--host",
                "127.0.0.1",
                "--port",
                perpex_port,
                "--scenario",
                "demo",
            ],
        )
        supervisor.start(
            "OCX simulator",
            [PY, "-m", "ocx_sim", "--host", "127.0.0.1", "--port", ocx_port, "--scenario", "demo"],
        )
        if not _wait_http(f"{sim_url}/api/health", timeout=30):
            raise embedded.EmbeddedServiceError(f"the simulator did not answer on {sim_url}")
        if not _wait_http(f"{perpex_url}/api/v1/markets", timeout=30):
            raise embedded.EmbeddedServiceError(
                f"the PerpEx simulator did not answer on {perpex_url}"
            )
        if not _wait_http(f"{ocx_url}/health", timeout=30):
            raise embedded.EmbeddedServiceError(f"the OCX simulator did not answer on {ocx_url}")
        _manage(
            "demo_setup",
            "--sim-url",
            sim_url,
            "--perpex-sim-url",
            perpex_url,
            "--ocx-sim-url",
            ocx_url,
        )
        schedule = str(VAR_DIR / "celerybeat-schedule")
        supervisor.start(
            "daphne",
            [PY, "-m", "daphne", "-b", host, "-p", port, "standx_web.asgi:application"],
        )
        supervisor.start(
            "worker",
            [PY, "-m", "celery", "-A", "standx_web", "worker", "-l", "INFO", "--concurrency", "2"],
            env={"DATABASE_CONN_MAX_AGE": "60"},
        )
        supervisor.start(
            "urgent worker",
            [
                PY,
                "-m",
                "celery",
                "-A",
                "standx_web",
                "worker",
                "-l",
                "INFO",
                "--concurrency",
                "1",
                "-Q",
                "sync_urgent",
                "-n",
                "urgent@%h",
            ],
            env={"DATABASE_CONN_MAX_AGE": "60"},
        )
        supervisor.start(
            "beat", [PY, "-m", "celery", "-A", "standx_web", "beat", "-l", "INFO", "-s", schedule]
        )
        supervisor.start("pricestream", [PY, "manage.py", "pricestream"])
        supervisor.start("accountstreams", [PY, "manage.py", "accountstreams"])
        if _wait_http(f"http://{host}:{port}/healthz", timeout=60):
            _log(f"StandX Portfolio is up: http://{host}:{port}/  (log in as demo / demo)")
        else:
            _log("the web server did not answer within 60 s; see its output above")
        _log(
            f"simulated StandX on {sim_url}, PerpEx on {perpex_url} and OCX on {ocx_url}; the "
            "demo login has an account linked on each"
        )
        _log("press Ctrl-C to stop everything")
        while not stopping:
            exited = supervisor.first_exited()
            if exited:
                _log(f"{exited[0]} exited with code {exited[1]}; stopping the rest")
                code = 1
                break
            time.sleep(0.5)
    except subprocess.CalledProcessError as exc:
        _log(f"set-up step failed: {' '.join(map(str, exc.cmd[1:]))}")
        code = 1
    except embedded.EmbeddedServiceError as exc:
        _log(str(exc))
        code = 1
    finally:
        _log("stopping")
        supervisor.stop()
        embedded.stop_owned()
        _log("stopped")
    return code


def chromium_path() -> str | None:
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        return configured if Path(configured).exists() else None
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("chromium")


def _pytest(args: list[str]) -> int:
    code = subprocess.run([PY, "-m", "pytest", *args], cwd=BASE_DIR, check=False).returncode
    # Exit 5 is "no tests collected": a missing selection is a failure here, not a pass.
    return code


def run_tests(extra: list[str]) -> int:
    env_defaults = {
        "SECRET_KEY": "test-secret-key-not-for-deployment-0123456789abcdef",
        "CREDENTIAL_KEYS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "FAST_PASSWORD_HASHER": "1",
        "SECURE_SSL_REDIRECT": "0",
        "SESSION_COOKIE_SECURE": "0",
        "CSRF_COOKIE_SECURE": "0",
        "SECURE_HSTS_SECONDS": "0",
        # Push tests send to a local push-service stand-in over plain HTTP.
        "VAPID_PRIVATE_KEY": generate_private_key(),
        "VAPID_SUBJECT": "mailto:tests@localhost",
        "WEB_PUSH_ALLOW_ANY_ENDPOINT": "1",
    }
    for key, value in env_defaults.items():
        os.environ.setdefault(key, value)
    code = 1
    try:
        prepare_services()
        _manage("collectstatic", "--noinput", "-v", "0")
        code = _pytest(["-m", "not browser", *extra])
        browser = chromium_path()
        require = os.environ.get("REQUIRE_BROWSER") == "1"
        if browser is None:
            if require:
                _log("REQUIRE_BROWSER=1 but no Chromium at /usr/bin/chromium or CHROMIUM_PATH")
                code = code or 1
            else:
                _log("browser tests skipped: no Chromium (install Debian's chromium package)")
        else:
            os.environ["CHROMIUM_PATH"] = browser
            browser_code = _pytest(
                [
                    "-m",
                    "browser",
                    "-p",
                    "no:asyncio",
                    "-W",
                    "ignore::pytest.PytestConfigWarning",
                    "tests/e2e",
                    *extra,
                ]
            )
            code = code or browser_code
    except (subprocess.CalledProcessError, embedded.EmbeddedServiceError) as exc:
        _log(f"test set-up failed: {exc}")
        code = 1
    finally:
        embedded.stop_owned()
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m standx_web.launcher")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the demo (make run)")
    sub.add_parser("test", help="run the test suite (make test); extra arguments go to pytest")
    args, extra = parser.parse_known_args(argv)
    os.chdir(BASE_DIR)
    if args.command == "run":
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return run_demo()
    return run_tests(extra)


if __name__ == "__main__":
    sys.exit(main())
