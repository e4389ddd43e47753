"""Which due accounts one dispatch hands to the workers: each venue within its own budget.

Pure (no Django, no I/O), so the planning is table-tested. Every venue has its own request
budget (:meth:`venues.base.RateBudget.dispatch_per_second`), so a crowd of accounts on one venue
never takes the share of another's: within each venue the riskiest accounts come first, and the
riskiest one is always sent, even when its planned cost alone exceeds the venue's budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from venues import registry


@dataclass(frozen=True)
class Candidate:
    """A due account, as the dispatcher weighs it."""

    account_id: int
    venue: str
    cost: int  # the requests its next sync is sure to make
    interval_s: float  # its poll interval: the shorter, the riskier


def venue_budgets(seconds: float, cap_per_second: float) -> dict[str, int]:
    """The requests each known venue's syncs may plan for a dispatch every ``seconds``: the
    venue's own rate, never above ``cap_per_second``, and at least one request."""
    budgets = {}
    for key in registry.known():
        rate = min(registry.adapter(key).rate_budget.dispatch_per_second(), cap_per_second)
        budgets[key] = max(1, math.floor(rate * seconds))
    return budgets


def plan(candidates: Iterable[Candidate], budgets: Mapping[str, int] | int | None) -> list[int]:
    """The account ids to sync now, riskiest first across venues.

    ``candidates`` come riskiest first. ``budgets`` is each venue's request budget (a venue not
    named has none: its accounts wait), one figure for every venue, or None for no budget.
    Within a venue, accounts are taken in order until the next one would overspend its budget.
    """
    spent: dict[str, int] = {}
    full: set[str] = set()
    picked: list[Candidate] = []
    for c in candidates:
        if c.venue in full:
            continue
        limit = budgets.get(c.venue, 0) if isinstance(budgets, Mapping) else budgets
        used = spent.get(c.venue)
        if limit is not None and used is not None and used + c.cost > limit:
            full.add(c.venue)  # riskiest first: a cheaper account behind it must not jump ahead
            continue
        if limit is not None and used is None and limit <= 0:
            full.add(c.venue)
            continue
        spent[c.venue] = (used or 0) + c.cost
        picked.append(c)
    return [c.account_id for c in picked]
