"""What a push says, and how long a push service should keep it. Pure: table-tested.

The payload carries only what the notification shows (title and body are the alert's own words)
plus what the service worker needs to show it right: ``tag`` (the same one the open tab uses, so
one notification stands per alert subject), ``renotify``, ``requireInteraction``, a same-origin
``url``, and ``expires`` so a push that arrives after its relevance is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# A critical alert must survive a phone asleep overnight; a warning or a resolution that is
# stale after a quarter of an hour is noise (the dashboard shows the present).
TTL = {"critical": timedelta(hours=12), "warning": timedelta(minutes=15)}
RESOLVED_TTL = timedelta(minutes=15)
TEST_TTL = timedelta(minutes=5)


@dataclass(frozen=True)
class PushMessage:
    payload: dict[str, Any]
    ttl: int  # seconds the push service may hold it for an offline device
    urgency: str  # RFC 8030 Urgency: "high" wakes a sleeping phone
    topic: str  # RFC 8030 Topic: a newer push of the same topic replaces an undelivered one


def alert_tag(account_id: int, metric: str, symbol: str) -> str:
    """One notification per subject: a critical replaces the warning of the same metric and
    position (an escalation), a resolution replaces what it resolves."""
    return (
        f"standx-alert-{account_id}-{metric}-{symbol}"
        if symbol
        else (f"standx-alert-{account_id}-{metric}")
    )


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def alert_message(
    *,
    event_id: int,
    alert_id: int,
    kind: str,
    severity: str,
    title: str,
    body: str,
    tag: str,
    url: str,
    at: datetime,
) -> PushMessage:
    resolved = kind == "resolved"
    ttl = RESOLVED_TTL if resolved else TTL.get(severity, TTL["warning"])
    critical = severity == "critical" and not resolved
    return PushMessage(
        payload={
            "type": "alert",
            "event": event_id,
            "title": title,
            "body": body,
            "tag": tag,
            "severity": severity,
            "kind": kind,
            "url": url,
            "at": _ms(at),
            "expires": _ms(at + ttl),
            # A new firing or a reminder under a standing tag must be heard again; a
            # resolution replaces quietly.
            "renotify": not resolved,
            "requireInteraction": critical,
        },
        ttl=int(ttl.total_seconds()),
        urgency="high" if critical else "normal",
        topic=f"alert{alert_id}",
    )


def check_message(*, device: str, url: str, at: datetime) -> PushMessage:
    return PushMessage(
        payload={
            "type": "test",
            "event": 0,
            "title": "Test alert from StandX Portfolio",
            "body": f"Push works on {device}. Real alerts look like this and open the position.",
            "tag": "standx-test",
            "severity": "warning",
            "kind": "fired",
            "url": url,
            "at": _ms(at),
            "expires": _ms(at + TEST_TTL),
            "renotify": True,
            "requireInteraction": False,
        },
        ttl=int(TEST_TTL.total_seconds()),
        urgency="normal",
        topic="test",
    )
