"""The ASGI application: one origin for the API, auth, WebSockets and the control API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

from standx_sim.control import control_routes
from standx_sim.http_api import API, OFFCHAIN, make_dispatcher
from standx_sim.scenarios import start_scenario
from standx_sim.state import Sim

log = logging.getLogger("standx_sim")
METHODS = ["GET", "POST", "HEAD", "PUT", "DELETE"]


def create_app(
    seed: int = 0,
    scenario: str | None = None,
    tick_seconds: float = 0.5,
    backfill_minutes: int = 7 * 24 * 60,
) -> Starlette:
    sim = Sim.create(seed, backfill_minutes)
    start_scenario(sim, scenario)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(tick_seconds)
            try:
                sim.engine.tick()
                sim.hub.broadcast_market()
            except Exception:
                log.exception("engine tick failed")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(ticker())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def ws_stream(ws: WebSocket) -> None:
        await sim.hub.stream_endpoint(ws, sim.faults)

    async def ws_api(ws: WebSocket) -> None:
        await sim.hub.api_endpoint(ws, sim.faults)

    routes: list[BaseRoute] = [
        Route("/api/{rest:path}", make_dispatcher(sim, API, "/api/"), methods=METHODS),
        Route(
            "/v1/offchain/{rest:path}",
            make_dispatcher(sim, OFFCHAIN, "/v1/offchain/"),
            methods=METHODS,
        ),
        WebSocketRoute("/ws-stream/v1", ws_stream),
        WebSocketRoute("/ws-api/v1", ws_api),
        *control_routes(sim),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sim = sim
    return app
