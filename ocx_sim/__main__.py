"""``python -m ocx_sim [--host H] [--port P] [--seed N] [--scenario demo]`` (contract 7)."""

from __future__ import annotations

import argparse

import uvicorn

from ocx_sim.app import create_app
from ocx_sim.scenarios import SCENARIO_NAMES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ocx_sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenario", choices=SCENARIO_NAMES, default="none")
    parser.add_argument("--tick-seconds", type=float, default=0.5, help="engine tick period")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    app = create_app(seed=args.seed, scenario=args.scenario, tick_seconds=args.tick_seconds)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
