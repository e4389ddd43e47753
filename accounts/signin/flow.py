"""The sign-in flow shared by the login page and the admin login: throttles, then the password,
then the second factor when the user has one, then the session is recorded.

Throttles (``accounts.throttle``): one account from one address and one address are locked for
a while after a few failures; the account-wide ceiling pauses sign-in *by password alone*. Past
the ceiling a user with a second factor still signs in (password and factor, or a passkey), and
anyone can have a one-time link emailed to the account's address that lets their browser past
it. While the ceiling holds, the answer to the password does not say whether it was right: a
user with a second factor always goes on to the second step, and a wrong password fails there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from django.contrib.auth import authenticate, login
from django.http import HttpRequest, HttpResponse
from django.utils.http import url_has_allowed_host_and_scheme

from accounts import throttle
from accounts.models import User
from accounts.sessions.services import client_ip, device_check, session_record
from accounts.twofactor import stepup
from accounts.twofactor.services import user_has_second_factor

PENDING = "signin_pending"
BYPASS = "signin_ceiling_bypass"
PENDING_S = 5 * 60
BACKEND = "django.contrib.auth.backends.ModelBackend"


@dataclass(frozen=True)
class Refused:
    message: str


@dataclass(frozen=True)
class NeedsSecondFactor:
    pass


@dataclass(frozen=True)
class SignedIn:
    user: User


Outcome = Refused | NeedsSecondFactor | SignedIn
WRONG_CREDENTIALS = (
    "Please enter a correct username and password. Note that both fields may be case-sensitive."
)


def _address(request: HttpRequest) -> str:
    return client_ip(request) or "unknown"


def lock_message(limit: throttle.Limit, seconds: int) -> str:
    left = throttle.wait_words(seconds)
    if limit is throttle.ADDRESS:
        return f"Too many failed logins from your address. Try again in {left}."
    if limit is throttle.ACCOUNT:
        return (
            f"Too many failed logins for this account from many places: signing in with the "
            f"password alone is paused for {left}. A passkey or your authenticator app still "
            "works, or have a one-time link emailed to the account's address."
        )
    return f"Too many failed logins for this account. Try again in {left}."


def _bypasses_ceiling(request: HttpRequest, username: str) -> bool:
    return username.strip().lower() in request.session.get(BYPASS, [])


def ceiling_bypass_grant(request: HttpRequest, user: User) -> None:
    """This browser may sign in to ``user`` past the account-wide ceiling (an emailed link)."""
    granted = list(request.session.get(BYPASS, []))
    granted.append(user.get_username().strip().lower())
    request.session[BYPASS] = granted[-5:]


def password_step(request: HttpRequest, username: str, password: str) -> Outcome:
    address = _address(request)
    for limit, parts in (
        (throttle.ACCOUNT_AT_ADDRESS, (username, address)),
        (throttle.ADDRESS, (address,)),
    ):
        wait = throttle.locked_for(limit, *parts)
        if wait:
            return Refused(lock_message(limit, wait))
    ceiling = (
        0
        if _bypasses_ceiling(request, username)
        else throttle.locked_for(throttle.ACCOUNT, username)
    )
    user = authenticate(request, username=username, password=password)
    if user is not None and not isinstance(user, User):
        user = None
    if ceiling:
        return _past_the_ceiling(request, username, user, ceiling)
    if user is None:
        _password_failed(username, address)
        return Refused(WRONG_CREDENTIALS)
    throttle.clear(throttle.ACCOUNT_AT_ADDRESS, username, address)
    if user_has_second_factor(user):
        _pend(request, user, password_ok=True)
        return NeedsSecondFactor()
    return SignedIn(user)


def _past_the_ceiling(request: HttpRequest, username: str, user: User | None, wait: int) -> Outcome:
    # The ceiling holds: the password alone never signs in, and the answer does not tell
    # whether it was right.
    candidate = user or User.objects.filter(username=username).first()
    if user is None:
        _password_failed(username, _address(request))
    if candidate is not None and candidate.is_active and user_has_second_factor(candidate):
        _pend(request, candidate, password_ok=user is not None)
        return NeedsSecondFactor()
    return Refused(lock_message(throttle.ACCOUNT, wait))


def _password_failed(username: str, address: str) -> None:
    throttle.record_failure(throttle.ACCOUNT_AT_ADDRESS, username, address)
    throttle.record_failure(throttle.ADDRESS, address)
    throttle.record_failure(throttle.ACCOUNT, username)


def _pend(request: HttpRequest, user: User, *, password_ok: bool) -> None:
    request.session[PENDING] = {"user_id": user.pk, "at": time.time(), "password_ok": password_ok}


def pending_user(request: HttpRequest) -> User | None:
    """The user between the password and the second factor (for five minutes), or None."""
    state = request.session.get(PENDING)
    if not isinstance(state, dict) or time.time() - float(state.get("at", 0)) > PENDING_S:
        return None
    user_id = state.get("user_id")
    if not isinstance(user_id, int):
        return None
    return User.objects.filter(pk=user_id, is_active=True).first()


def pending_password_ok(request: HttpRequest) -> bool:
    state = request.session.get(PENDING)
    return isinstance(state, dict) and state.get("password_ok") is True


def pending_drop(request: HttpRequest) -> None:
    request.session.pop(PENDING, None)


def second_factor_wrong_password(request: HttpRequest, user: User) -> Refused:
    """The factor was right but the password was not (only past the ceiling): start again."""
    pending_drop(request)
    _password_failed(user.get_username(), _address(request))
    return Refused(WRONG_CREDENTIALS)


def safe_next(request: HttpRequest, candidate: str, default: str) -> str:
    # A path on this site only: redirect() would take anything else ("x") for a view's name.
    if (
        candidate.startswith("/")
        and not candidate.startswith("//")
        and url_has_allowed_host_and_scheme(
            candidate, {request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return default


def complete(
    request: HttpRequest,
    user: User,
    *,
    method: Literal["password", "second_factor"],
    response: HttpResponse,
) -> HttpResponse:
    """Sign ``user`` in on this browser, record the session, and mind the device (its cookie
    goes on ``response``, which is returned)."""
    pending_drop(request)
    login(request, user, backend=BACKEND)
    if method == "second_factor":
        stepup.mark_verified(request)
    session_record(request=request, user=user)
    throttle.clear(throttle.ACCOUNT_AT_ADDRESS, user.get_username(), _address(request))
    device_check(request=request, response=response, user=user)
    return response
