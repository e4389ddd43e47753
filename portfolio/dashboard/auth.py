"""Small request helpers shared by the portfolio views."""

from __future__ import annotations

from django.http import HttpRequest


def user_id_of(request: HttpRequest) -> int:
    """The signed-in user's id (the views are behind ``login_required``)."""
    pk = request.user.pk
    assert isinstance(pk, int)
    return pk
