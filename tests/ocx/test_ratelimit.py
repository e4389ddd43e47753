"""The client's order-path budget never lets a rolling minute exceed OCX's 120."""

from __future__ import annotations

from collections import deque

from exchange_common.ratelimit import LocalRateLimiter
from ocx.ratelimit import ORDER_PATH, PER_MINUTE


def test_no_rolling_minute_carries_more_than_120_order_path_requests() -> None:
    now = [0.0]
    limiter = LocalRateLimiter(ORDER_PATH, clock=lambda: now[0])
    granted: deque[float] = deque()
    worst = 0
    while now[0] < 300:
        if limiter.reserve("01ALICE") <= 0:
            granted.append(now[0])
        while granted and granted[0] <= now[0] - 60:
            granted.popleft()
        worst = max(worst, len(granted))
        now[0] += 0.05
    assert worst <= PER_MINUTE
    assert worst >= PER_MINUTE - 2  # and it is not needlessly slower


def test_users_have_separate_budgets() -> None:
    limiter = LocalRateLimiter(ORDER_PATH, clock=lambda: 0.0)
    for _ in range(int(ORDER_PATH.account_capacity)):
        assert limiter.reserve("01ALICE") == 0
    assert limiter.reserve("01ALICE") > 0
    assert limiter.reserve("01BOB") == 0
