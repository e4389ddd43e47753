"""The dispatcher plans each venue within its own budget, riskiest first within each venue."""

from __future__ import annotations

import pytest

from portfolio.sync import dispatch
from portfolio.sync.dispatch import Candidate
from venues import registry
from venues.base import RateBucket, RateBudget


def crowd(venue: str, n: int, cost: int, interval_s: float, first_id: int) -> list[Candidate]:
    return [Candidate(first_id + i, venue, cost, interval_s) for i in range(n)]


def riskiest_first(*groups: list[Candidate]) -> list[Candidate]:
    everyone = [c for group in groups for c in group]
    return sorted(everyone, key=lambda c: (c.interval_s, c.account_id))


STANDX_CROWD = crowd("standx", 40, 3, 1.0, 1)  # near liquidation, each 3 requests
PERPEX_QUIET = crowd("perpex", 3, 1, 60.0, 100)  # flat and idle, 1 request each
PERPEX_CROWD = crowd("perpex", 40, 3, 2.0, 200)
STANDX_QUIET = crowd("standx", 2, 1, 60.0, 300)


@pytest.mark.parametrize(
    ("candidates", "budgets", "expected"),
    [
        # A crowd of risky StandX accounts takes StandX's budget, never PerpEx's.
        (
            riskiest_first(STANDX_CROWD, PERPEX_QUIET),
            {"standx": 22, "perpex": 7},
            [1, 2, 3, 4, 5, 6, 7, 100, 101, 102],
        ),
        # And the other way round.
        (
            riskiest_first(PERPEX_CROWD, STANDX_QUIET),
            {"standx": 22, "perpex": 7},
            [200, 201, 300, 301],
        ),
        # The riskiest account of a venue goes even when it alone costs more than the budget.
        ([Candidate(1, "perpex", 3, 1.0), Candidate(2, "perpex", 1, 1.0)], {"perpex": 2}, [1]),
        # Riskiest first: a cheaper, quieter account never jumps ahead of one that did not fit.
        (
            [*crowd("standx", 2, 3, 1.0, 1), Candidate(3, "standx", 1, 60.0)],
            {"standx": 4},
            [1],
        ),
        # One figure is every venue's budget; None plans without one.
        (riskiest_first(STANDX_CROWD[:3], PERPEX_CROWD[:3]), 6, [1, 2, 200, 201]),
        (riskiest_first(STANDX_CROWD[:3], PERPEX_CROWD[:3]), None, [1, 2, 3, 200, 201, 202]),
        # A venue without a budget waits; so does one whose budget is nothing.
        (riskiest_first(STANDX_QUIET, PERPEX_QUIET), {"standx": 5}, [300, 301]),
        (riskiest_first(STANDX_QUIET, PERPEX_QUIET), {"standx": 0, "perpex": 1}, [100]),
        ([], {"standx": 22}, []),
    ],
)
def test_it_plans_each_venue_within_its_own_budget(
    candidates: list[Candidate], budgets: dict[str, int] | int | None, expected: list[int]
) -> None:
    assert dispatch.plan(candidates, budgets) == expected


def test_it_gives_each_venue_its_own_share_of_a_dispatch_interval() -> None:
    # StandX plans 45/s across the IP; PerpEx 70 % of its 20/s IP guard; OCX 30/s.
    assert dispatch.venue_budgets(0.5, cap_per_second=45) == {"ocx": 15, "perpex": 7, "standx": 22}
    assert dispatch.venue_budgets(1.0, cap_per_second=10) == {"ocx": 10, "perpex": 10, "standx": 10}
    # However short the interval, every venue may send one request.
    assert dispatch.venue_budgets(0.01, cap_per_second=45) == {"ocx": 1, "perpex": 1, "standx": 1}


@pytest.mark.parametrize(
    ("budget", "per_second"),
    [
        (RateBudget((RateBucket("ip", 50, 50.0),), sync_per_second=45.0), 45.0),
        (
            RateBudget(
                (RateBucket("key", 120, 2.0), RateBucket("ip", 1200, 20.0)),
                sync_per_second=1.4,
                sync_scope="key",
            ),
            14.0,
        ),
        (RateBudget((RateBucket("key", 120, 2.0),), sync_per_second=1.4, sync_scope="key"), None),
    ],
)
def test_it_reads_a_venues_dispatch_rate_from_its_budget(
    budget: RateBudget, per_second: float | None
) -> None:
    rate = budget.dispatch_per_second()
    if per_second is None:
        assert rate == float("inf")  # per key only: the cap of the settings decides
    else:
        assert rate == pytest.approx(per_second)


def test_it_plans_perpex_per_key_and_standx_per_ip() -> None:
    assert registry.adapter("perpex").rate_budget.sync_scope == "key"
    assert registry.adapter("standx").rate_budget.sync_scope == "venue"
