"""The ASGI application: the REST API, the WebSocket (``/ws`` and ``/``) and ``/sim/``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute

from perpex_sim.control import control_routes
from perpex_sim.errors import ApiError
from perpex_sim.http_api import api_routes, error_response
from perpex_sim.scenarios import start_scenario
from perpex_sim.state import Sim

log = logging.getLogger("perpex_sim")


def create_app(
    seed: int = 0,
    scenario: str | None = None,
    tick_seconds: float = 0.5,
    backfill_minutes: int = 24 * 60,
) -> Starlette:
    sim = Sim.create(seed, backfill_minutes)
    start_scenario(sim, scenario)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(tick_seconds)
            try:
                sim.engine.tick(tick_seconds)
                sim.hub.broadcast()
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

    async def unknown(request: Request) -> Response:
        return error_response(
            ApiError(404, "NOT_FOUND", f"no route {request.method} {request.url.path}")
        )

    routes: list[BaseRoute] = [
        *api_routes(sim),
        Route("/api/{rest:path}", unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        WebSocketRoute("/ws", sim.hub.endpoint),
        WebSocketRoute("/", sim.hub.endpoint),
        *control_routes(sim),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sim = sim
    return app
