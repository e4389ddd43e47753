"""Pages for linking StandX accounts. Thin: parse, call one service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import minting, selectors, services, venue_config
from accounts.forms import (
    ImportTokenForm,
    WalletBeginForm,
    WalletCompleteForm,
    custom_endpoints_allowed,
)
from accounts.models import ExchangeAccount, User
from accounts.twofactor.stepup import step_up_required
from venues.base import Endpoints


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


def _endpoints(url: str) -> Endpoints:
    return venue_config.endpoints_at("standx", url)


def _owned(request: HttpRequest, pk: int) -> ExchangeAccount:
    # 404, not 403, for someone else's account: its existence is not theirs to know.
    return get_object_or_404(ExchangeAccount, pk=pk, owner=request.user)


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = list(selectors.accounts_with_history(_user(request)))
    wallets = selectors.wallets_of(accounts)
    rows = [(account, wallets.get(account.pk)) for account in accounts]
    return render(request, "accounts/account_list.html", {"accounts": rows})


def _link_context(request: HttpRequest, import_form: ImportTokenForm) -> dict[str, object]:
    return {
        "import_form": import_form,
        "custom_endpoints": custom_endpoints_allowed(),
        "default_perps_url": venue_config.configured_endpoints("standx")["perps"],
    }


def _linked_message(request: HttpRequest, account: ExchangeAccount) -> None:
    text = f"Linked “{account.label}” ({account.get_mode_display().lower()})."
    if public_key := account.signing_public_key:
        text += f" Its public key is {public_key}: compare it with StandX's session page."
    if account.days_left is not None:
        text += f" The token expires in {account.days_left} day{'s' * (account.days_left != 1)}."
    messages.success(request, text)
    if account.expires_soon:
        messages.warning(
            request, "This token expires within 3 days: create a longer one on StandX soon."
        )


@login_required
def link_new(request: HttpRequest) -> HttpResponse:
    form = ImportTokenForm()
    return render(request, "accounts/link_new.html", _link_context(request, form))


@transaction.non_atomic_requests  # it calls StandX: no transaction open across the requests
@login_required
@require_POST
def link_import(request: HttpRequest) -> HttpResponse:
    form = ImportTokenForm(request.POST)
    if form.is_valid():
        try:
            account = services.account_link_with_token(
                owner=_user(request),
                label=form.cleaned_data["label"],
                token=form.cleaned_data["token"],
                signing_key=form.cleaned_data["signing_key"] or None,
                endpoints=_endpoints(form.cleaned_data["exchange_url"]),
            )
        except services.LinkError as exc:
            form.add_error(None, str(exc))
        else:
            _linked_message(request, account)
            return redirect("account_list")
    # The signing key is never echoed back into the page (PasswordInput renders it empty).
    response = render(request, "accounts/link_new.html", _link_context(request, form))
    response.status_code = 400
    return response


def _form_error(form: WalletBeginForm | WalletCompleteForm) -> JsonResponse:
    text = "; ".join(f"{e}" for errs in form.errors.values() for e in errs)
    return JsonResponse({"error": text or "Invalid request."}, status=400)


@transaction.non_atomic_requests  # it calls the venue: no transaction across it
@login_required
@require_POST
def wallet_begin(request: HttpRequest) -> JsonResponse:
    form = WalletBeginForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    try:
        challenge, message = services.account_link_begin_wallet(
            owner=_user(request),
            chain=form.cleaned_data["chain"],
            address=form.cleaned_data["address"],
            endpoints=_endpoints(form.cleaned_data["exchange_url"]),
        )
    except services.LinkError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"challenge_id": challenge.pk, "message": message})


@transaction.non_atomic_requests  # it calls the venue: no transaction across it
@login_required
@require_POST
def wallet_complete(request: HttpRequest) -> JsonResponse:
    form = WalletCompleteForm(request.POST)
    if not form.is_valid():
        return _form_error(form)
    try:
        account = services.account_link_complete_wallet(
            owner=_user(request),
            challenge_id=form.cleaned_data["challenge_id"],
            signature=form.cleaned_data["signature"],
            label=form.cleaned_data["label"],
            endpoints=_endpoints(form.cleaned_data["exchange_url"]),
        )
    except services.LinkError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    _linked_message(request, account)
    return JsonResponse({"redirect": reverse("account_list")})


@transaction.non_atomic_requests  # it may revoke minted keys at the venue: no transaction across
@login_required
@require_POST
@step_up_required(back_to="account_list")
def account_unlink(request: HttpRequest, pk: int) -> HttpResponse:
    account = _owned(request, pk)
    label = account.label
    words = minting.account_unlink_revoking(owner=_user(request), account=account)
    messages.success(request, f"Unlinked “{label}”: {words}")
    return redirect("account_list")


@login_required
@require_POST
def account_sync(request: HttpRequest, pk: int) -> HttpResponse:
    account = _owned(request, pk)
    enabled = request.POST.get("enabled") == "1"
    services.account_set_sync(account=account, enabled=enabled)
    messages.success(request, f"Sync {'resumed' if enabled else 'paused'} for “{account.label}”.")
    return redirect("account_list")
