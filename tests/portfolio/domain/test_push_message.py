"""What a push says and how long a push service keeps it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from portfolio.domain.push_message import alert_message, alert_tag

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kind", "severity", "ttl", "urgency", "renotify", "sticky"),
    [
        ("fired", "critical", 12 * 3600, "high", True, True),
        ("repeated", "critical", 12 * 3600, "high", True, True),
        ("resolved", "critical", 15 * 60, "normal", False, False),
        ("fired", "warning", 15 * 60, "normal", True, False),
        ("resolved", "warning", 15 * 60, "normal", False, False),
    ],
)
def test_it_keeps_critical_alerts_through_a_night_and_warnings_briefly(
    kind: str, severity: str, ttl: int, urgency: str, renotify: bool, sticky: bool
) -> None:
    message = alert_message(
        event_id=7,
        alert_id=3,
        kind=kind,
        severity=severity,
        title="t",
        body="b",
        tag="standx-alert-1-health-SOL-USD",
        url="/#pos-1-SOL-USD",
        at=AT,
    )
    assert (message.ttl, message.urgency) == (ttl, urgency)
    assert message.payload["renotify"] is renotify
    assert message.payload["requireInteraction"] is sticky
    assert message.payload["expires"] - message.payload["at"] == ttl * 1000
    assert message.topic == "alert3"


def test_one_tag_per_subject_so_a_critical_replaces_the_warning() -> None:
    assert alert_tag(4, "health", "SOL-USD") == "standx-alert-4-health-SOL-USD"
    assert alert_tag(4, "data_age_s", "") == "standx-alert-4-data_age_s"
