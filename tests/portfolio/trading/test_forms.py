"""The order form offers what the trader's venues can do: capabilities, never venue names."""

from __future__ import annotations

import pytest

from accounts.models import ExchangeAccount, User
from portfolio.trading.forms import OrderForm
from tests.portfolio.trading.test_views import order_post

pytestmark = pytest.mark.django_db


def test_a_standx_trader_is_offered_standx_s_times_in_force_and_position_settings(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    form = OrderForm(user_id=alice.pk)
    offered = [value for value, _ in form.fields["time_in_force"].choices]  # type: ignore[attr-defined]
    assert offered == ["gtc", "ioc", "alo"]  # StandX's set: post-only is its ALO time in force
    assert "post_only" not in form.fields  # no venue of alice's has a post-only flag
    assert {"leverage", "margin_mode"} <= set(form.fields)


def test_a_time_in_force_the_venue_does_not_offer_is_refused_in_words(
    alice: User, alice_trader: ExchangeAccount
) -> None:
    form = OrderForm(order_post(alice_trader, "submit", time_in_force="fok"), user_id=alice.pk)
    assert not form.is_valid()
    assert form.errors["time_in_force"]  # FOK is not among the choices offered at all
