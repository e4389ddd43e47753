"""`python -m standx` (contract 4) against the simulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import base58
import nacl.signing

BASE_DIR = Path(__file__).resolve().parents[2]


def cli(sim_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {
        **os.environ,
        "STANDX_PERPS_URL": sim_url,
        "STANDX_AUTH_URL": sim_url,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "standx", *args],
        cwd=BASE_DIR,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_balance_positions_orders_and_trades_print_json(
    sim_url: str, alice_account: dict[str, Any]
) -> None:
    env = {
        "STANDX_TOKEN": alice_account["token"],
        "STANDX_SIGNING_KEY": alice_account["signing_key"],
    }
    balance = cli(sim_url, "balance", **env)
    assert balance.returncode == 0, balance.stderr
    assert json.loads(balance.stdout)["equity"] == "10000"
    order = cli(sim_url, "new-order", "BTC-USD", "buy", "0.002", "--cl-ord-id", "cli-1", **env)
    assert order.returncode == 0, order.stderr
    assert json.loads(order.stdout)["code"] == 0
    for command in (["positions", "--symbol", "BTC-USD"], ["open-orders"], ["trades"]):
        result = cli(sim_url, *command, **env)
        assert result.returncode == 0, result.stderr
        assert isinstance(json.loads(result.stdout), list)
    cancel = cli(sim_url, "cancel-order", "--cl-ord-id", "cli-1", **env)
    # Filled market orders cannot be cancelled: a clear error, exit status 1, JSON on stderr.
    if cancel.returncode:
        assert json.loads(cancel.stderr)["error"]


def test_errors_are_json_on_stderr_and_never_show_the_token(
    sim_url: str, alice_account: dict[str, Any]
) -> None:
    wrong_key = base58.b58encode(bytes(nacl.signing.SigningKey.generate())).decode()
    env = {"STANDX_TOKEN": alice_account["token"], "STANDX_SIGNING_KEY": wrong_key}
    result = cli(sim_url, "new-order", "BTC-USD", "buy", "0.002", **env)
    assert result.returncode == 1
    error = json.loads(result.stderr)
    assert error["error"] == "InvalidSignatureError"
    assert alice_account["token"] not in result.stderr + result.stdout
    assert wrong_key not in result.stderr + result.stdout


def test_login_prints_a_token_and_the_signing_key(sim_url: str) -> None:
    wallet = nacl.signing.SigningKey.generate()
    secret = base58.b58encode(bytes(wallet)).decode()
    result = cli(sim_url, "login", "--chain", "solana", STANDX_WALLET_KEY=secret)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["chain"] == "solana"
    assert data["token"].count(".") == 2
    assert len(base58.b58decode(data["signing_key"])) == 32


def test_stream_prints_one_json_object_per_line(sim_url: str) -> None:
    result = cli(sim_url, "stream", "price", "--symbol", "SOL-USD", "--count", "2")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 2
    assert all(line["channel"] == "price" for line in lines)
