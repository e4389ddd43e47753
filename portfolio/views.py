from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from standx_web.health import health_report


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    return render(request, "portfolio/overview.html", {"health": health_report()})
