"""The clients' shared command-line plumbing: JSON out, decimal arguments, exit statuses."""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

import pytest

from exchange_common.cli import positive_decimal, run, to_json
from exchange_common.errors import ClientAPIError
from standx.models import Position
from tests.standx import docs_examples as ex


def test_to_json_turns_results_into_plain_data() -> None:
    data = to_json(Position.parse(ex.POSITIONS[0]))
    assert data["qty"] == "0.940" and data["created_at"] == "2025-08-10T09:05:50.265265Z"


def test_to_json_writes_decimals_without_an_exponent() -> None:
    assert to_json([Decimal("1E+3"), Decimal("0.00000010")]) == ["1000", "0.00000010"]


@pytest.mark.parametrize("text", ["0", "-1", "NaN", "Infinity", "ten"])
def test_it_refuses_a_decimal_argument_that_is_not_a_positive_number(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        positive_decimal(text)


def test_a_client_error_ends_with_json_on_stderr_and_status_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def refuse(args: argparse.Namespace) -> None:
        raise ClientAPIError("no such order", status=404, code="ORDER_NOT_FOUND", endpoint="/o")

    assert run(argparse.ArgumentParser(), refuse, []) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert json.loads(err) == {
        "error": "ClientAPIError",
        "message": "HTTP 404 ORDER_NOT_FOUND from /o: no such order",
    }


def test_a_result_is_printed_as_json_with_status_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argparse.ArgumentParser(), lambda args: {"price": Decimal("1.50")}, []) == 0
    assert json.loads(capsys.readouterr().out) == {"price": "1.50"}
