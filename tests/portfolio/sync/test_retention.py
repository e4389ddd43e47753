from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from accounts.models import ExchangeAccount, User
from portfolio.models import BalanceSnapshot
from portfolio.sync.retention import snapshots_downsample
from tests.factories import make_account

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def snap(account: ExchangeAccount, at: datetime, equity: int) -> None:
    zero = Decimal(0)
    BalanceSnapshot.objects.create(
        account=account,
        taken_at=at,
        equity=Decimal(equity),
        cash=zero,
        upnl=zero,
        margin_used=zero,
        locked=zero,
    )


@pytest.fixture
def account(alice: User) -> ExchangeAccount:
    return make_account(alice, "A", token=None)


def test_recent_snapshots_stay_raw_older_ones_keep_one_per_minute_then_hour(
    account: ExchangeAccount,
) -> None:
    for second in range(0, 60, 10):  # six in one recent minute: all stay
        snap(account, NOW - timedelta(hours=1, seconds=second), 1)
    minute = NOW - timedelta(days=5)
    for second in (1, 20, 40):  # three in one minute five days ago: the last stays
        snap(account, minute.replace(second=second), second)
    hour = NOW - timedelta(days=40)
    for minutes in (5, 25, 45):  # three in one hour forty days ago: the last stays
        snap(account, hour.replace(minute=minutes), minutes)
    deleted = snapshots_downsample(NOW)
    assert deleted == 4
    old_minute = BalanceSnapshot.objects.filter(taken_at__date=minute.date())
    assert [s.equity for s in old_minute] == [Decimal(40)]
    assert [s.equity for s in BalanceSnapshot.objects.filter(taken_at__date=hour.date())] == [
        Decimal(45)
    ]
    assert BalanceSnapshot.objects.filter(taken_at__gte=NOW - timedelta(days=1)).count() == 6
    assert snapshots_downsample(NOW) == 0
