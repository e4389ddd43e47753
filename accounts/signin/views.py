"""Sign-in pages: password, second factor, passkey without a password, emailed links, and the
admin's login (the same flow). Thin: parse, call the flow, render."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import throttle
from accounts.models import User
from accounts.sessions.services import client_ip
from accounts.signin import flow, links
from accounts.signin.forms import CodeForm, EmailLinkForm, PasswordForm
from accounts.twofactor import passkeys, stepup
from accounts.twofactor.services import (
    TwoFactorError,
    factor_verify_code,
    passkey_used,
    user_has_totp,
)


def _next(request: HttpRequest) -> str:
    candidate = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    return flow.safe_next(request, candidate, reverse(settings.LOGIN_REDIRECT_URL))


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_page(request: HttpRequest) -> HttpResponse:
    next_url = _next(request)
    if request.user.is_authenticated:
        return redirect(next_url)
    form = PasswordForm(request.POST or None, initial={"username": request.GET.get("username", "")})
    if request.method == "POST" and form.is_valid():
        outcome = flow.password_step(
            request, form.cleaned_data["username"], form.cleaned_data["password"]
        )
        if isinstance(outcome, flow.SignedIn):
            return flow.complete(
                request, outcome.user, method="password", response=redirect(next_url)
            )
        if isinstance(outcome, flow.NeedsSecondFactor):
            return redirect(f"{reverse('signin_second_factor')}?{urlencode({'next': next_url})}")
        form.add_error(None, outcome.message)
    return render(request, "registration/login.html", {"form": form, "next": next_url})


@sensitive_post_parameters("code")
@csrf_protect
@never_cache
def second_factor_page(request: HttpRequest) -> HttpResponse:
    """The login's second step: an authenticator code, a recovery code or a passkey."""
    next_url = _next(request)
    user = flow.pending_user(request)
    if user is None:
        messages.info(request, "Sign in again: the second step waits five minutes at most.")
        return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            factor_verify_code(user=user, code=form.cleaned_data["code"], ip=client_ip(request))
        except TwoFactorError as exc:
            form.add_error("code", str(exc))
        else:
            if not flow.pending_password_ok(request):
                refused = flow.second_factor_wrong_password(request, user)
                messages.error(request, refused.message)
                return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")
            return flow.complete(request, user, method="second_factor", response=redirect(next_url))
    return render(
        request,
        "accounts/second_factor.html",
        {
            "form": form,
            "next": next_url,
            "has_totp": user_has_totp(user),
            "has_passkeys": user.passkeys.exists(),
            "purpose": "signin",
        },
        status=400 if form.errors else 200,
    )


@require_POST
@csrf_protect
def passkey_options(request: HttpRequest) -> JsonResponse:
    """Options to sign with a passkey: the signed-in user's (step-up), the pending user's
    (second step), or any of this site's (sign-in without a password)."""
    if isinstance(request.user, User):
        user: User | None = request.user
    else:
        user = flow.pending_user(request)
    return JsonResponse({"publicKey": passkeys.authentication_options(request, user)})


@require_POST
@csrf_protect
def passkey_sign(request: HttpRequest) -> JsonResponse:
    next_url = _next(request)
    address = client_ip(request) or "unknown"
    wait = throttle.locked_for(throttle.ADDRESS, address)
    if wait:
        return JsonResponse({"error": flow.lock_message(throttle.ADDRESS, wait)}, status=429)
    try:
        passkey = passkeys.authentication_verify(request, passkeys.parse_body(request.body))
    except passkeys.PasskeyError as exc:
        throttle.record_failure(throttle.ADDRESS, address)
        return JsonResponse({"error": str(exc)}, status=400)
    passkey_used(passkey=passkey, sign_count=passkey.sign_count)
    user = passkey.user
    if isinstance(request.user, User):
        if user.pk != request.user.pk:
            return JsonResponse({"error": "This passkey belongs to another account."}, status=400)
        stepup.mark_verified(request)
        return JsonResponse({"redirect": next_url})
    if not user.is_active:
        return JsonResponse({"error": "This account is disabled."}, status=403)
    pending = flow.pending_user(request)
    if pending is not None and pending.pk == user.pk and not flow.pending_password_ok(request):
        refused = flow.second_factor_wrong_password(request, user)
        return JsonResponse({"error": refused.message}, status=400)
    # A passkey with user verification is two factors on its own: no password needed.
    response = JsonResponse({"redirect": next_url})
    flow.complete(request, user, method="second_factor", response=response)
    return response


@csrf_protect
@never_cache
def email_link_request(request: HttpRequest) -> HttpResponse:
    form = EmailLinkForm(
        request.POST or None, initial={"username": request.GET.get("username", "")}
    )
    if request.method == "POST" and form.is_valid():
        links.signin_link_send(username=form.cleaned_data["username"], ip=client_ip(request))
        messages.success(
            request,
            "If that account has an email address, a one-time link is on its way to it "
            "(valid for 15 minutes). Open it in this browser, then sign in.",
        )
        return redirect("login")
    return render(request, "accounts/email_link.html", {"form": form})


@csrf_protect
@never_cache
def email_link_open(request: HttpRequest, token: str) -> HttpResponse:
    # Mail scanners fetch links: only the button's POST uses the link up.
    if request.method != "POST":
        return render(request, "accounts/email_link_open.html", {"token": token})
    user = links.signin_link_use(token=token)
    if user is None:
        messages.error(request, "This link is unknown, expired or already used; ask for a new one.")
        return redirect("signin_email_link")
    flow.ceiling_bypass_grant(request, user)
    messages.success(
        request, f"This browser may now sign in to “{user.get_username()}”: enter your password."
    )
    return redirect(f"{reverse('login')}?{urlencode({'username': user.get_username()})}")


def admin_login(request: HttpRequest) -> HttpResponse:
    """The admin's login is the site's: same throttles, same second factor."""
    next_url = request.GET.get(REDIRECT_FIELD_NAME) or reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_staff and request.user.is_active:
            return redirect(flow.safe_next(request, next_url, reverse("admin:index")))
        messages.error(request, "Your account has no access to the admin.")
        return redirect(settings.LOGIN_REDIRECT_URL)
    return redirect(f"{reverse('login')}?{urlencode({'next': next_url})}")
