"""The simulator's shared state: one per process, handed to every route."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perpex_sim.engine import Engine
from perpex_sim.faults import Faults
from perpex_sim.keys import Keys
from perpex_sim.limits import RateLimits
from perpex_sim.ws import Hub, WsConfig


@dataclass
class Sim:
    seed: int
    engine: Engine
    keys: Keys
    faults: Faults
    limits: RateLimits
    hub: Hub
    demo: dict[str, Any] | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, seed: int, backfill_minutes: int = 24 * 60) -> Sim:
        engine = Engine(seed, backfill_minutes=backfill_minutes)
        keys = Keys(seed)
        faults = Faults(seed)
        hub = Hub(engine, keys, faults, WsConfig())
        engine.sink = hub
        return cls(seed, engine, keys, faults, RateLimits(), hub)
