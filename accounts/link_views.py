"""The generic "paste your credentials" link page of every venue whose adapter is a
``PastedLink``. Thin: parse, call one service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts import linking, venue_config
from accounts.link_forms import PastedLinkForm
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
                venue_config.endpoints_at(venue, form.cleaned_data.get("exchange_url") or ""),
                form.pasted(),
                form.cleaned_data["label"],
            )
        except LinkError as exc:
            form.add_error(None, str(exc))
        else:
            linked_message(request, account)
            return redirect("account_list")
    return _page(request, venue, form, status=400)
