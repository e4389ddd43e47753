"""Security settings: the authenticator app, recovery codes, passkeys, and the step-up page.
Thin: parse, call one service, render."""

from __future__ import annotations

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.sessions.services import client_ip, sessions_end_others
from accounts.signin.flow import safe_next
from accounts.signin.forms import CodeForm
from accounts.twofactor import passkeys, services, stepup, totp
from accounts.twofactor.forms import PasskeyNameForm, TotpConfirmForm


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _changed(request: HttpRequest, text: str) -> None:
    """A second factor changed: every other session of the user ends."""
    ended = sessions_end_others(user=_user(request), request=request)
    if ended:
        text += f" {ended} other session{'s' * (ended != 1)} signed out."
    messages.success(request, text)


def _show_codes(request: HttpRequest, codes: list[str], title: str) -> HttpResponse:
    # Shown once, from this response only (never stored or redirected through the session).
    return render(request, "accounts/recovery_codes.html", {"codes": codes, "title": title})


@login_required
@never_cache
def security(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(
        request,
        "accounts/security.html",
        {
            "has_totp": services.user_has_totp(user),
            "passkeys": list(user.passkeys.all()),
            "codes_left": services.recovery_codes_left(user),
            "has_factor": services.user_has_second_factor(user),
            "stepup_needed": stepup.needed(request),
            "verify_url": stepup.verify_url(reverse("security")),
            "name_form": PasskeyNameForm(),
        },
    )


@sensitive_post_parameters("code")
@login_required
@never_cache
@stepup.step_up_required(back_to="security")
def totp_setup(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = TotpConfirmForm(request.POST or None)
    if request.method == "POST":
        secret = services.totp_pending_secret(user=user)
        if secret is not None and form.is_valid():
            try:
                codes = services.totp_enrol_confirm(user=user, code=form.cleaned_data["code"])
            except services.TwoFactorError as exc:
                form.add_error("code", str(exc))
            else:
                stepup.mark_verified(request)
                _changed(request, "Your authenticator app is set up.")
                if codes:
                    return _show_codes(request, codes, "Authenticator app set up")
                return redirect("security")
    else:
        try:
            secret = services.totp_enrol_begin(user=user)
        except services.TwoFactorError as exc:
            messages.info(request, str(exc))
            return redirect("security")
    if secret is None:
        return redirect("totp_setup")
    uri = services.totp_provisioning_uri(user=user, secret=secret)
    # segno writes the SVG from our own URI: nothing in it comes from the request.
    qr_svg = mark_safe(segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff"))  # noqa: S308
    return render(
        request,
        "accounts/totp_setup.html",
        {"form": form, "qr_svg": qr_svg, "secret": totp.grouped(secret)},
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
@stepup.step_up_required(back_to="security")
def totp_remove(request: HttpRequest) -> HttpResponse:
    try:
        services.totp_remove(user=_user(request))
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
    else:
        _changed(request, "The authenticator app is removed.")
    return redirect("security")


@login_required
@require_POST
@never_cache
@stepup.step_up_required(back_to="security")
def recovery_codes_new(request: HttpRequest) -> HttpResponse:
    try:
        codes = services.recovery_codes_regenerate(user=_user(request))
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
        return redirect("security")
    _changed(request, "New recovery codes made; the old ones no longer work.")
    return _show_codes(request, codes, "New recovery codes")


@login_required
@require_POST
@stepup.step_up_required(back_to="security")
def passkey_register_options(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"publicKey": passkeys.registration_options(request, _user(request))})


@login_required
@require_POST
@never_cache
@stepup.step_up_required(back_to="security")
def passkey_register(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    try:
        body = passkeys.parse_body(request.body)
        if not isinstance(body, dict):
            raise passkeys.PasskeyError("The browser's answer was not a passkey.")
        new = passkeys.registration_verify(request, user, body.get("credential"))
    except passkeys.PasskeyError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    _, codes = services.passkey_add(
        user=user,
        name=str(body.get("name") or ""),
        credential_id=new.credential_id,
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=new.transports,
    )
    stepup.mark_verified(request)
    _changed(request, "Passkey added.")
    # The page shows new recovery codes itself (once) before moving on.
    return JsonResponse({"redirect": reverse("security"), "codes": codes})


@login_required
@require_POST
@stepup.step_up_required(back_to="security")
def passkey_remove(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        removed = services.passkey_remove(user=_user(request), passkey_id=pk)
    except services.TwoFactorError as exc:
        messages.error(request, str(exc))
    else:
        if removed:
            _changed(request, "Passkey removed.")
    return redirect("security")


@sensitive_post_parameters("code")
@login_required
@never_cache
def verify(request: HttpRequest) -> HttpResponse:
    """Step-up: show the second factor again before a dangerous action."""
    user = _user(request)
    next_url = safe_next(
        request, request.POST.get("next") or request.GET.get("next", ""), reverse("security")
    )
    if not services.user_has_second_factor(user):
        return redirect(next_url)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.factor_verify_code(
                user=user, code=form.cleaned_data["code"], ip=client_ip(request)
            )
        except services.TwoFactorError as exc:
            form.add_error("code", str(exc))
        else:
            stepup.mark_verified(request)
            return redirect(next_url)
    return render(
        request,
        "accounts/second_factor.html",
        {
            "form": form,
            "next": next_url,
            "has_totp": services.user_has_totp(user),
            "has_passkeys": user.passkeys.exists(),
            "purpose": "stepup",
        },
        status=400 if form.errors else 200,
    )
