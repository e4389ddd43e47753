"""The Sessions page: where this account is signed in, and signing those sessions out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.sessions import services
from accounts.sessions.store import stored_key


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)
    return request.user


@login_required
def session_list(request: HttpRequest) -> HttpResponse:
    key = request.session.session_key
    return render(
        request,
        "accounts/sessions.html",
        {
            "sessions": services.sessions_of(_user(request)),
            "current_hash": stored_key(key) if key else "",
        },
    )


@login_required
@require_POST
def session_sign_out(request: HttpRequest, pk: int) -> HttpResponse:
    if services.session_end(user=_user(request), session_id=pk):
        messages.success(request, "That session is signed out.")
    return redirect("sessions")


@login_required
@require_POST
def sessions_sign_out_others(request: HttpRequest) -> HttpResponse:
    count = services.sessions_end_others(user=_user(request), request=request)
    messages.success(request, f"Signed out {count} other session{'s' * (count != 1)}.")
    return redirect("sessions")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's page; a new password also signs out every other session of the user."""

    def form_valid(self, form: PasswordChangeForm) -> HttpResponse:
        response = super().form_valid(form)
        services.sessions_end_others(user=_user(self.request), request=self.request)
        return response
