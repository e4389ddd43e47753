from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from accounts.models import ExchangeAccount, User
from tests.conftest import child_server, sim_credentials

pytestmark = pytest.mark.django_db


def test_link_standx_account_links_from_files(alice: User, sim_url: str, tmp_path: Path) -> None:
    standx = sim_credentials(sim_url)
    (tmp_path / "token").write_text(standx["token"] + "\n")
    (tmp_path / "key").write_text(standx["signing_key"])
    out = StringIO()
    call_command(
        "link_standx_account",
        "--user",
        "alice",
        "--token-file",
        str(tmp_path / "token"),
        "--signing-key-file",
        str(tmp_path / "key"),
        "--perps-url",
        sim_url,
        "--auth-url",
        sim_url,
        stdout=out,
    )
    account = ExchangeAccount.objects.get(owner=alice)
    assert account.mode == "trading"
    assert f"Linked account {account.pk}" in out.getvalue()
    assert standx["token"] not in out.getvalue()
    assert standx["signing_key"] not in out.getvalue()


def test_link_standx_account_explains_failures(alice: User, sim_url: str, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("not a token")
    with pytest.raises(CommandError, match="not a JWT"):
        call_command(
            "link_standx_account",
            "--user",
            "alice",
            "--token-file",
            str(tmp_path / "token"),
            "--perps-url",
            sim_url,
        )
    with pytest.raises(CommandError, match="No user named"):
        call_command("link_standx_account", "--user", "nobody", "--token-file", "/x")


def test_rotate_credential_keys_reports_counts(
    alice_linked: ExchangeAccount, settings: Any
) -> None:
    new = base64.b64encode(os.urandom(32)).decode()
    out = StringIO()
    with override_settings(CREDENTIAL_KEYS=[new, *settings.CREDENTIAL_KEYS]):
        call_command("rotate_credential_keys", stdout=out)
    # The token and the signing key: one row each.
    assert "credentials: 2, re-encrypted: 2, already current: 0" in out.getvalue()


@pytest.fixture
def two_demo_simulators() -> Iterator[tuple[str, str]]:
    """`make run` twice on different SIM_PORTs: each simulator starts the same demo wallet."""
    args = ["-m", "standx_sim", "--host", "127.0.0.1", "--port", "{port}", "--scenario", "demo"]
    with (
        child_server("a demo simulator", args, ready_path="/api/health") as first,
        child_server("another demo simulator", args, ready_path="/api/health") as second,
    ):
        yield first, second


def demo_setup_against(sim_url: str, settings: Any) -> str:
    ws = "ws" + sim_url.removeprefix("http")
    settings.STANDX_PERPS_URL = settings.STANDX_AUTH_URL = sim_url
    settings.STANDX_WS_URL, settings.STANDX_WS_API_URL = f"{ws}/ws-stream/v1", f"{ws}/ws-api/v1"
    out = StringIO()
    call_command("demo_setup", "--sim-url", sim_url, stdout=out)
    return out.getvalue()


def test_the_demo_links_its_wallet_once_whatever_port_its_simulator_ran_on(
    two_demo_simulators: tuple[str, str], settings: Any
) -> None:
    settings.DEMO_MODE = True
    first, second = two_demo_simulators
    demo_setup_against(first, settings)
    demo_setup_against(first, settings)  # the same port again: the same link, renewed
    [linked] = ExchangeAccount.objects.filter(owner__username="demo")
    assert "Linked the simulator's demo account" in demo_setup_against(second, settings)
    [moved] = ExchangeAccount.objects.filter(owner__username="demo")
    assert moved.address == linked.address
    assert (moved.origin, moved.label) == (second, "Demo (simulated)")


@pytest.mark.parametrize(
    ("venue", "simulator", "ready_path", "urls", "label", "said"),
    [
        (
            "perpex",
            "perpex_sim",
            "/api/v1/markets",
            {"PERPEX_API_URL": "{url}", "PERPEX_WS_URL": "{ws}/ws"},
            "PerpEx demo (simulated)",
            "Linked the PerpEx simulator's demo account",
        ),
        (
            "ocx",
            "ocx_sim",
            "/health",
            {"OCX_API_URL": "{url}"},
            "OCX demo (simulated)",
            "Linked the OCX simulator's demo wallet",
        ),
    ],
)
def test_demo_setup_links_each_venues_demo_for_trading_once_replacing_an_earlier_run(
    settings: Any,
    capsys: pytest.CaptureFixture[str],
    venue: str,
    simulator: str,
    ready_path: str,
    urls: dict[str, str],
    label: str,
    said: str,
) -> None:
    from tests.conftest import child_server

    settings.DEMO_MODE = True
    args = ["-m", simulator, "--host", "127.0.0.1", "--port", "{port}", "--scenario", "demo"]
    option = f"--{venue}-sim-url"
    with child_server(f"the {venue} demo", args, ready_path=ready_path) as url:
        for name, value in urls.items():
            setattr(settings, name, value.format(url=url, ws="ws" + url[4:]))
        call_command("demo_setup", option, url)
        first = ExchangeAccount.objects.get(owner__username="demo", venue=venue)
        ExchangeAccount.objects.filter(pk=first.pk).update(label="Renamed by the demo user")
        call_command("demo_setup", option, url)  # `make run` again
    [account] = ExchangeAccount.objects.filter(owner__username="demo", venue=venue)
    assert account.pk != first.pk
    assert (account.label, account.identity, account.mode) == (label, first.identity, "trading")
    assert said in capsys.readouterr().out


def test_the_ocx_demo_holds_a_minted_trade_key_and_the_session(settings: Any) -> None:
    from tests.conftest import child_server

    settings.DEMO_MODE = True
    args = ["-m", "ocx_sim", "--host", "127.0.0.1", "--port", "{port}", "--scenario", "demo"]
    with child_server("the OCX demo", args, ready_path="/health") as url:
        settings.OCX_API_URL = url
        call_command("demo_setup", "--ocx-sim-url", url)
    account = ExchangeAccount.objects.get(owner__username="demo", venue="ocx")
    kinds = dict(account.credentials.values_list("kind", "meta"))
    assert kinds == {"ocx_api_key_trade": {"minted": True}, "ocx_session": {}}
