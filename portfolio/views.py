from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.selectors import accounts_for
from standx_web.health import health_report


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    accounts = list(accounts_for(request.user))  # type: ignore[arg-type]
    return render(
        request, "portfolio/overview.html", {"health": health_report(), "accounts": accounts}
    )
