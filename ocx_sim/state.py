"""The simulator's shared state: one instance per process, handed to every endpoint."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ocx_sim.auth import AuthService
from ocx_sim.clock import SimClock
from ocx_sim.engine import Engine
from ocx_sim.faults import Faults
from ocx_sim.ratelimit import OrderPathLimiter
from ocx_sim.stream import Hub


@dataclass
class Sim:
    seed: int
    clock: SimClock
    engine: Engine
    auth: AuthService
    faults: Faults
    limiter: OrderPathLimiter
    hub: Hub
    rng: random.Random
    demo: dict[str, Any] | None = None
    tick_seconds: float = 0.5

    @classmethod
    def create(cls, seed: int, backfill_minutes: int = 24 * 60) -> Sim:
        clock = SimClock()
        return cls(
            seed=seed,
            clock=clock,
            engine=Engine(seed, clock, backfill_minutes),
            auth=AuthService(seed, clock),
            faults=Faults(seed),
            limiter=OrderPathLimiter(),
            hub=Hub(),
            rng=random.Random(f"wallets-{seed}"),  # noqa: S311 - simulation, not security
        )

    def flush(self) -> None:
        """Wake the streams of every account the last request or tick changed."""
        touched, self.engine.touched = self.engine.touched, set()
        self.hub.notify(touched)
