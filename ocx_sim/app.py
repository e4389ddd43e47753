"""The ASGI application: the OCX API, its streams and the control API on one origin."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from ocx_sim.control import control_routes
from ocx_sim.http_api import api_routes
from ocx_sim.scenarios import start_scenario
from ocx_sim.state import Sim

log = logging.getLogger("ocx_sim")


def create_app(
    seed: int = 0,
    scenario: str | None = None,
    tick_seconds: float = 0.5,
    backfill_minutes: int = 24 * 60,
) -> Starlette:
    sim = Sim.create(seed, backfill_minutes)
    sim.tick_seconds = tick_seconds
    start_scenario(sim, scenario)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(tick_seconds)
            try:
                sim.engine.tick()
                sim.flush()
            except Exception:
                log.exception("engine tick failed")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(ticker())
        try:
            yield
        finally:
            sim.hub.drop_all()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = Starlette(routes=[*api_routes(sim), *control_routes(sim)], lifespan=lifespan)
    app.state.sim = sim
    return app
