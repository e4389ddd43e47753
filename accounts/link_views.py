"""The generic link page of every venue whose adapter is a ``PastedLink``: "paste your
credentials", and a wallet sign-in that mints keys where the adapter is also a ``KeyMintLink``
(its two JSON steps). Thin: parse, call one service, render."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import linking, minting, venue_config
from accounts.link_forms import MintBeginForm, MintCompleteForm, PastedLinkForm, VenueForm
from accounts.models import ExchangeAccount, User
from accounts.services import LinkError
from venues import registry


def _venue(venue: str) -> str:
    """A venue this server offers and that links by pasting credentials (else 404)."""
    if venue not in venue_config.offered():
        raise Http404("no such venue")
    try:
        linking.pasted_adapter(venue)
    except LookupError:
        raise Http404("this venue is not linked by pasting credentials") from None
    return venue


def _page(
    request: HttpRequest, venue: str, form: PastedLinkForm, status: int = 200
) -> HttpResponse:
    context = {
        "venue": venue,
        "venue_name": registry.adapter(venue).name,
        "form": form,
        "default_origin": venue_config.configured_endpoints(venue).origin,
        "mint_modes": minting.mint_modes(venue),
        "custom_endpoints": venue_config.custom_endpoints_allowed(venue),
    }
    return render(request, "accounts/link_pasted.html", context, status=status)


def linked_message(request: HttpRequest, account: ExchangeAccount) -> None:
    venue = registry.adapter(account.venue).name
    text = f"Linked “{account.label}” on {venue} ({account.get_mode_display().lower()})."
    if account.days_left is not None:
        text += f" The key expires in {account.days_left} day{'s' * (account.days_left != 1)}."
    messages.success(request, text)
    if account.expires_soon:
        messages.warning(
            request, f"This key expires within 3 days: create a longer one on {venue}."
        )


@transaction.non_atomic_requests  # it calls the venue: no transaction open across the requests
@login_required
def link_pasted(request: HttpRequest, venue: str) -> HttpResponse:
    venue = _venue(venue)
    if request.method != "POST":
        return _page(request, venue, PastedLinkForm(venue))
    form = PastedLinkForm(venue, request.POST)
    if form.is_valid():
        user = request.user
        assert isinstance(user, User)
        try:
            account = linking.account_link_pasted(
                user,
                venue,
                form.endpoints(),
                form.pasted(),
                form.cleaned_data["label"],
            )
        except LinkError as exc:
            form.add_error(None, str(exc))
        else:
            linked_message(request, account)
            return redirect("account_list")
    return _page(request, venue, form, status=400)


def _minting(venue: str) -> str:
    venue = _venue(venue)
    if not minting.mint_modes(venue):
        raise Http404("this venue has no wallet sign-in here")
    return venue


def _form_error(form: VenueForm) -> JsonResponse:
    text = "; ".join(f"{e}" for errs in form.errors.values() for e in errs)
    return JsonResponse({"error": text or "Invalid request."}, status=400)


def _json_step(
    request: HttpRequest,
    venue: str,
    form_class: type[MintBeginForm | MintCompleteForm],
    step: Callable[[User, MintBeginForm | MintCompleteForm], dict[str, object]],
) -> JsonResponse:
    """One JSON step of the wallet sign-in: the form, one service call, its answer or words."""
    venue = _minting(venue)
    form = form_class(venue, request.POST)
    if not form.is_valid():
        return _form_error(form)
    user = request.user
    assert isinstance(user, User)
    try:
        return JsonResponse(step(user, form))
    except LinkError as exc:
        return JsonResponse({"error": str(exc)}, status=400)


@transaction.non_atomic_requests  # it calls the venue: no transaction across it
@login_required
@require_POST
def mint_begin(request: HttpRequest, venue: str) -> JsonResponse:
    def begin(user: User, form: MintBeginForm | MintCompleteForm) -> dict[str, object]:
        challenge, message = minting.account_mint_begin(
            owner=user,
            venue_key=form.venue,
            address=form.cleaned_data["address"],
            mode=form.cleaned_data["mode"],
            endpoints=form.endpoints(),
        )
        return {"challenge_id": challenge.pk, "message": message}

    return _json_step(request, venue, MintBeginForm, begin)


@transaction.non_atomic_requests  # it calls the venue: no transaction across it
@login_required
@require_POST
def mint_complete(request: HttpRequest, venue: str) -> JsonResponse:
    def complete(user: User, form: MintBeginForm | MintCompleteForm) -> dict[str, object]:
        account = minting.account_mint_complete(
            owner=user,
            venue_key=form.venue,
            challenge_id=form.cleaned_data["challenge_id"],
            signature=form.cleaned_data["signature"],
            label=form.cleaned_data["label"],
            endpoints=form.endpoints(),
        )
        linked_message(request, account)
        return {"redirect": reverse("account_list")}

    return _json_step(request, venue, MintCompleteForm, complete)
