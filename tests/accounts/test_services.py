from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from accounts.services import user_ensure_demo

pytestmark = pytest.mark.django_db


def test_the_demo_login_exists_only_in_demo_mode() -> None:
    with override_settings(DEMO_MODE=False), pytest.raises(ImproperlyConfigured):
        user_ensure_demo()


def test_it_creates_the_demo_login_and_is_idempotent() -> None:
    with override_settings(DEMO_MODE=True):
        first = user_ensure_demo()
        first.set_password("changed")
        first.save()
        second = user_ensure_demo()
    assert first.pk == second.pk
    assert second.check_password("demo")
