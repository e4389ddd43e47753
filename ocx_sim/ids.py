"""ULIDs (the docs' id format): 48 bits of milliseconds, 80 seeded random bits, Crockford
base32. Monotonic within a millisecond, so ids sort in creation order."""

from __future__ import annotations

import random
from datetime import datetime

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class UlidFactory:
    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"ulid-{seed}")  # noqa: S311 - simulation, not security
        self._last_ms = -1
        self._last_rand = 0

    def new(self, moment: datetime) -> str:
        ms = int(moment.timestamp() * 1000)
        if ms <= self._last_ms:
            ms = self._last_ms
            rand = self._last_rand + 1
        else:
            rand = self._rng.getrandbits(80)
        self._last_ms, self._last_rand = ms, rand
        value = (ms << 80) | (rand & ((1 << 80) - 1))
        return "".join(ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))
