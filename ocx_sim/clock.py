"""The simulator's clock: wall time plus an offset that ``POST /sim/tick`` can advance, so
tests reach a funding hour, a future's expiry or a session's end without waiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += timedelta(seconds=seconds)


def iso(moment: datetime) -> str:
    """``2026-04-24T12:00:00.000Z``: ISO-8601 UTC with milliseconds (the docs' convention)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def next_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
