"""Step-up: a dangerous action (the kill switch, unlinking, changing second factors) asks for
the second factor again unless one was verified in this session within the last few minutes."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.models import User
from accounts.twofactor.services import user_has_second_factor

VERIFIED_AT = "second_factor_verified_at"
P = ParamSpec("P")


def mark_verified(request: HttpRequest) -> None:
    request.session[VERIFIED_AT] = time.time()


def is_fresh(request: HttpRequest) -> bool:
    at = request.session.get(VERIFIED_AT)
    return isinstance(at, int | float) and 0 <= time.time() - at < settings.STEP_UP_SECONDS


def needed(request: HttpRequest) -> bool:
    """True when this user has a second factor and has not shown it recently."""
    user = request.user
    return isinstance(user, User) and user_has_second_factor(user) and not is_fresh(request)


def verify_url(next_url: str) -> str:
    return f"{reverse('second_factor_verify')}?{urlencode({'next': next_url})}"


def step_up_required(
    back_to: str | None = None,
) -> Callable[[Callable[P, HttpResponse]], Callable[P, HttpResponse]]:
    """Send the user to the second-factor page first, then back: a GET comes back to itself; a
    POST (whose form cannot be replayed) to the ``back_to`` URL name, to submit again."""

    def decorate(view: Callable[P, HttpResponse]) -> Callable[P, HttpResponse]:
        @wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            request = args[0]
            assert isinstance(request, HttpRequest)
            if not needed(request):
                return view(*args, **kwargs)
            if request.method == "POST":
                messages.info(
                    request,
                    "Nothing was done yet: confirm it is you with your second factor, then "
                    "do it again.",
                )
                target = reverse(back_to) if back_to else request.get_full_path()
            else:
                target = request.get_full_path()
            return redirect(verify_url(target))

        return wrapped

    return decorate
