"""Linking fixtures (the shared ones live in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(autouse=True)
def simulator_links_allowed(settings: Any) -> None:
    # These tests link accounts on the simulator's origin, as demo mode allows.
    settings.STANDX_ALLOW_CUSTOM_ENDPOINTS = True
