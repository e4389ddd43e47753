"""No Docker engine runs here, so the compose file is checked by reading it."""

from __future__ import annotations

import importlib
import importlib.util
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

BASE_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def command_of(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else list(command)


def assert_entry_point_exists(argv: list[str]) -> None:
    """Each command must name something that exists in this checkout."""
    if argv[:2] == ["python", "manage.py"]:
        assert argv[2] in get_commands(), f"no management command {argv[2]!r}"
    elif argv[0] == "daphne":
        module, _, attr = argv[-1].partition(":")
        assert hasattr(importlib.import_module(module), attr), argv[-1]
    elif argv[0] == "celery":
        app_module = argv[argv.index("-A") + 1]
        assert hasattr(importlib.import_module(app_module), "celery_app")
        assert argv[argv.index("-A") + 2] in {"worker", "beat"}
    else:
        pytest.fail(f"unknown entry point {argv!r}")


def test_it_has_the_services_of_the_house_plan(compose: dict[str, Any]) -> None:
    assert {
        "postgres",
        "redis",
        "migrate",
        "web",
        "worker",
        "worker-urgent",
        "beat",
        "pricestream",
    } <= set(compose["services"])
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")


def test_databases_have_health_checks_and_volumes(compose: dict[str, Any]) -> None:
    for name in ("postgres", "redis"):
        service = compose["services"][name]
        assert "healthcheck" in service, name
        assert service.get("volumes"), name


@pytest.mark.parametrize(
    "name", ["migrate", "web", "worker", "worker-urgent", "beat", "pricestream", "accountstreams"]
)
def test_each_app_command_resolves_to_an_entry_point(compose: dict[str, Any], name: str) -> None:
    assert_entry_point_exists(command_of(compose["services"][name]))


def test_web_starts_only_after_migrations_and_healthy_services(compose: dict[str, Any]) -> None:
    depends = compose["services"]["web"]["depends_on"]
    assert depends["migrate"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"


def test_exactly_one_beat_runs(compose: dict[str, Any]) -> None:
    beat = compose["services"]["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    beats = [s for s in compose["services"].values() if "beat" in command_of(s)[:4]]
    assert len(beats) == 1


def test_account_stream_workers_scale_out(compose: dict[str, Any]) -> None:
    streams = compose["services"]["accountstreams"]
    # No fixed name and no single replica: `--scale accountstreams=N` starts N of them.
    assert "container_name" not in streams
    assert streams.get("deploy", {}).get("replicas") is None


def test_the_ocx_simulator_runs_only_with_the_sim_profile_on_its_contract_port(
    compose: dict[str, Any],
) -> None:
    sim = compose["services"]["ocx-sim"]
    argv = command_of(sim)
    assert argv[:3] == ["python", "-m", "ocx_sim"]
    assert argv[argv.index("--port") + 1] == "8102"
    assert importlib.util.find_spec(argv[2]) is not None
    assert sim["profiles"] == ["sim"]  # never started beside real accounts by default
    assert sim["ports"] == ["127.0.0.1:8102:8102"]
    assert compose["x-venues"]["OCX_API_URL"] == "${OCX_API_URL:-https://api.ocx.global}"
