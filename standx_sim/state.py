"""The simulator's shared state: one instance per process, handed to every endpoint."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from standx_sim.auth import AuthService
from standx_sim.engine import Engine
from standx_sim.faults import Faults
from standx_sim.ratelimit import RateLimiter
from standx_sim.ws import Hub


@dataclass
class Sim:
    seed: int
    engine: Engine
    auth: AuthService
    faults: Faults
    limiter: RateLimiter
    hub: Hub
    rng: random.Random
    demo: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, seed: int, backfill_minutes: int = 7 * 24 * 60) -> Sim:
        engine = Engine(seed, backfill_minutes=backfill_minutes)
        auth = AuthService(seed, engine.clock)
        faults = Faults(seed)
        hub = Hub(engine, auth, faults)
        engine.sink = hub
        return cls(
            seed=seed,
            engine=engine,
            auth=auth,
            faults=faults,
            limiter=RateLimiter(),
            hub=hub,
            rng=random.Random(f"accounts-{seed}"),  # noqa: S311 - simulation, not security
        )
