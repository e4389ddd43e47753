"""``python -m perpex`` against the simulator: JSON out, errors as JSON on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perpex.cli import main
from tests.perpex_sim.helpers import SimControl


@pytest.fixture
def env(sim: SimControl, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    creds = sim.account()
    values = {
        "PERPEX_API_URL": sim.base_url,
        "PERPEX_WS_URL": sim.ws_url,
        "PERPEX_API_KEY": creds["api_key"],
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_it_places_an_order_and_shows_the_account(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "new-order", "BTC-USD", "buy", "0.001", "--client-order-id", "cli-1")
    assert code == 0
    assert json.loads(out)["client_order_id"] == "cli-1"
    code, out, _ = run(capsys, "positions")
    assert [p["symbol"] for p in json.loads(out)] == ["BTC-USD"]
    code, out, _ = run(capsys, "trades", "--all")
    assert len(json.loads(out)) == 1


def test_a_batch_file_prints_each_orders_result(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    orders = tmp_path / "orders.json"
    orders.write_text(
        json.dumps(
            [
                {"symbol": "ETH-USD", "side": "buy", "type": "market", "quantity": "0.01"},
                {"symbol": "NOPE", "side": "buy", "type": "market", "quantity": "1"},
            ]
        )
    )
    code, out, _ = run(capsys, "batch", str(orders))
    assert code == 0
    assert [r["error_code"] for r in json.loads(out)] == [None, "INVALID_SYMBOL"]


def test_an_unknown_order_is_an_error_on_stderr_without_the_key(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "cancel-order", "12345")
    assert (code, out) == (1, "")
    assert json.loads(err)["error"] == "OrderNotFoundError"
    assert env["PERPEX_API_KEY"] not in err


def test_the_module_streams_a_channel_as_json_lines(env: dict[str, str]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "perpex",
            "stream",
            "orderbook",
            "--symbol",
            "SOL-USD",
            "--count",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.splitlines()[0])
    assert (line["event"], line["channel"], line["symbol"]) == (
        "StreamMessage",
        "orderbook",
        "SOL-USD",
    )
