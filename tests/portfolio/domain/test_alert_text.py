"""The words of a fix: what to do, and what it leaves."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest

from portfolio.domain import fixes
from portfolio.domain.alert_text import fix_outcome, fix_sentence


def action(kind: str, amount: str, symbol: str = "SOL-USD") -> fixes.Action:
    return fixes.Action(kind, symbol, D(amount), "sell", D("2.3041"), D("81.40"), D("9.5612"))


@pytest.mark.parametrize(
    ("kind", "amount", "symbol", "said"),
    [
        (fixes.REDUCE, "6.00", "SOL-USD", "Reduce SOL-USD by 6 to get back to 2.00×."),
        (fixes.CLOSE, "20", "SOL-USD", "Close SOL-USD (20) to get back to 2.00×."),
        (
            fixes.ADD_MARGIN,
            "1234.5",
            "SOL-USD",
            "Add 1,234.50 margin to SOL-USD to get back to 2.00×.",
        ),
        (fixes.TRANSFER, "107", "", "Transfer 107.00 into the cross margin to get back to 2.00×."),
    ],
)
def test_it_says_what_to_do_in_one_sentence(kind: str, amount: str, symbol: str, said: str) -> None:
    assert fix_sentence(action(kind, amount, symbol), D(2)) == said


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({}, "health 2.30×, liquidation 81.40 (9.56% away)"),
        ({"liq_price": None, "distance_pct": None}, "health 2.30×, no liquidation price in reach"),
        ({"health": None}, "nothing left at risk in this margin"),
    ],
)
def test_it_says_what_the_fix_leaves(changes: dict[str, object], said: str) -> None:
    assert fix_outcome(replace(action(fixes.REDUCE, "6"), **changes)) == said  # type: ignore[arg-type]
