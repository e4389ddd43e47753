"""The overview page."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.selectors import accounts_for
from portfolio.dashboard import charts, selectors
from portfolio.dashboard.auth import user_id_of
from portfolio.health import health_report


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    accounts = list(accounts_for(request.user))  # type: ignore[arg-type]
    user_id = user_id_of(request)
    ctx = selectors.risk_context(user_id) if accounts else None
    positions = selectors.positions_for_user(ctx) if ctx else []
    summary = selectors.portfolio_summary(ctx) if ctx else None
    concentration = (
        selectors.concentration_for_user(ctx, summary.equity) if ctx and summary else None
    )
    curve = (
        charts.equity_curve(ctx.account_ids, charts.DEFAULT_RANGE, ctx.now).as_json()
        if ctx
        else None
    )
    return render(
        request,
        "portfolio/overview.html",
        {
            # The reader's own positions decide which feeds the page expects: no extra query.
            "health": health_report(held_by_viewer={p.venue for p in positions}),
            "accounts": accounts,
            "positions": positions,
            "summary": summary,
            "concentration": concentration,
            "curve": curve,
            "ranges": charts.RANGES.values(),
        },
    )
