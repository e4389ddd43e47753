"""Parameters the views read by hand, outside a form: a row id to page from, a page to go back to.

Whatever text arrives, each gives a usable value or its default, never an exception.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from portfolio.domain.plain_numbers import plain_integer


def row_id(text: str | None) -> int | None:
    """A row id given as text (a "before" or "sent" parameter), or None. ASCII digits only:
    ``str.isdigit()`` also passes "²", which ``int()`` refuses."""
    return plain_integer(text) if text else None


def back_to(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Back to the page named in the form's ``next``, if it is a path on this site; else to the
    view named ``default``. (Never through ``redirect()``, which would take "x" for a view name.)
    """
    target = request.POST.get("next", "")
    here = url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure())
    if not (here and target.startswith("/")):
        target = reverse(default)
    return HttpResponseRedirect(target)
