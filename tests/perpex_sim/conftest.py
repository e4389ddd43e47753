"""Fixtures: the shared PerpEx simulator, quiet for each test (``sim``)."""

from __future__ import annotations

from tests.perpex_sim.helpers import sim

__all__ = ["sim"]
