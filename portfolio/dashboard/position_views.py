"""Pages about what the user holds: positions and the stress slider, a symbol, the equity curve."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts.models import ExchangeAccount
from accounts.venue_config import account_endpoints, configured_endpoints
from portfolio.alerts import fixes as fix_of
from portfolio.dashboard import charts, selectors
from portfolio.dashboard.auth import user_id_of
from portfolio.dashboard.forms import StressForm
from portfolio.domain import fixes
from portfolio.models import MarketSymbol, Position, Trade
from venues import registry
from venues.base import Endpoints

HUNDRED = Decimal(100)


@login_required
def positions(request: HttpRequest) -> HttpResponse:
    ctx = selectors.risk_context(user_id_of(request))
    rows = selectors.positions_for_user(ctx, with_funding=True, with_odds=True)
    symbols = sorted({r.symbol for r in rows})
    # Without JavaScript the stress form submits here and the result renders in the page.
    form = StressForm(request.GET if "pct" in request.GET else None, symbols=symbols)
    stress = None
    if form.is_bound and form.is_valid():
        stress = selectors.stress_for_user(
            ctx, form.cleaned_data["symbol"], form.cleaned_data["pct"]
        )
    return render(
        request,
        "portfolio/positions.html",
        {
            "has_accounts": bool(ctx.views),
            "positions": rows,
            "summary": selectors.portfolio_summary(ctx) if ctx.views else None,
            "stress_form": form,
            "stress": stress,
            "close_choices": [("1", "Close"), ("0.5", "Half"), ("0.25", "Quarter")],
        },
    )


@login_required
def position_fix(request: HttpRequest, account_id: int, symbol: str) -> HttpResponse:
    """A fix's link (alert centre, email, push, positions page): the position's fix as it
    stands now, opened in its form filled in and previewed. Nothing is ever sent from here."""
    ctx = selectors.risk_context(user_id_of(request))
    rows = selectors.positions_for_user(ctx)
    row = next((r for r in rows if r.account_id == account_id and r.symbol == symbol), None)
    positions_url = reverse("portfolio:positions")
    if row is None:
        messages.info(request, f"{symbol} is no longer open on that account: nothing to fix.")
        return redirect(positions_url)
    back = f"{positions_url}#{row.anchor}"
    if row.fix is None:
        messages.info(request, f"{symbol} is back above your warning level: nothing to fix.")
        return redirect(back)
    if not row.fix.actions:
        messages.info(request, f"No single action on {symbol} gets it back on its own.")
        return redirect(back)
    action = row.fix.actions[0]
    if action.kind in (fixes.REDUCE, fixes.CLOSE) and row.can_trade:
        return redirect(fix_of.order_form_url(account_id, action))
    if action.kind == fixes.ADD_MARGIN and row.can_trade:
        query = f"account={account_id}&symbol={symbol}&amount={action.amount}"
        return redirect(f"{reverse('portfolio:order_new')}?{query}#adjust-title")
    messages.info(request, f"{row.fix_sentence} ({row.fix_result})")
    return redirect(back)


@login_required
def exposure(request: HttpRequest) -> HttpResponse:
    """Net position per asset across venues and accounts, hedges, and funding per venue."""
    ctx = selectors.risk_context(user_id_of(request))
    return render(
        request,
        "portfolio/exposure.html",
        {"has_accounts": bool(ctx.views), "page": selectors.exposure_for_user(ctx)},
    )


@login_required
def positions_stress(request: HttpRequest) -> HttpResponse:
    """The stress result as an HTML fragment for the slider (GET, so it has no side effects)."""
    ctx = selectors.risk_context(user_id_of(request))
    symbols = sorted({p.symbol for v in ctx.views for p in v.positions})
    form = StressForm(request.GET, symbols=symbols)
    if not form.is_valid():
        return render(request, "portfolio/_stress.html", {"form": form}, status=400)
    stress = selectors.stress_for_user(ctx, form.cleaned_data["symbol"], form.cleaned_data["pct"])
    return render(request, "portfolio/_stress.html", {"form": form, "stress": stress})


@login_required
def equity_data(request: HttpRequest) -> JsonResponse:
    ids = list(
        ExchangeAccount.objects.filter(owner_id=user_id_of(request)).values_list("pk", flat=True)
    )
    curve = charts.equity_curve(ids, request.GET.get("range", ""), timezone.now())
    return JsonResponse(curve.as_json())


def _venue_or_404(venue: str) -> str:
    if venue not in registry.known():
        raise Http404("No such venue")
    return venue


def _symbol_or_404(user_id: int, venue: str, symbol: str) -> str:
    mine = {"account__owner_id": user_id, "account__venue": _venue_or_404(venue)}
    known = (
        MarketSymbol.objects.filter(venue=venue, symbol=symbol).exists()
        or Position.objects.filter(**mine, symbol=symbol).exists()
        or Trade.objects.filter(**mine, symbol=symbol).exists()
    )
    if not known:
        raise Http404("No such symbol")
    return symbol


def _market_endpoints(venue: str, account: ExchangeAccount | None) -> Endpoints:
    """Public market data comes from where the user's first account on the venue trades (the
    simulator in the demo), else from the server's configured venue."""
    return account_endpoints(account) if account else configured_endpoints(venue)


@login_required
def symbol_detail(request: HttpRequest, venue: str, symbol: str) -> HttpResponse:
    ctx = selectors.risk_context(user_id_of(request))
    page = selectors.symbol_page(ctx, _venue_or_404(venue), symbol)
    if not page.known:
        raise Http404("No such symbol")
    on_venue = (v.account for v in ctx.views if v.account.venue == venue)
    endpoints = _market_endpoints(venue, next(on_venue, None))
    resolution = request.GET.get("resolution", charts.DEFAULT_RESOLUTION)
    if resolution not in charts.RESOLUTIONS:
        resolution = charts.DEFAULT_RESOLUTION
    candles: list[dict[str, object]] = []
    candles_error = ""
    try:
        candles = charts.candles(endpoints, symbol, resolution, timezone.now(), venue)
    except charts.CandlesUnavailable as exc:
        candles_error = str(exc)
    change = charts.range_change_pct(candles)
    funding_rows = [
        {"time": f.time, "pct": f.funding_rate * HUNDRED, "mark": f.mark_price}
        for f in page.funding
    ]
    price, info = page.price, page.info
    return render(
        request,
        "portfolio/symbol.html",
        {
            "venue": venue,
            "venue_name": registry.adapter(venue).name,
            "symbol": symbol,
            "page": page,
            "resolutions": charts.RESOLUTIONS.values(),
            "resolution": resolution,
            "chart": {
                "candles": candles,
                "markers": page.markers,
                "resolution_s": charts.RESOLUTIONS[resolution].seconds,
                "funding": [
                    {"time": int(r["time"].timestamp()), "value": str(r["pct"])}
                    for r in reversed(funding_rows)
                ],
            },
            "candles_error": candles_error,
            "change_pct": change,
            "funding_rows": funding_rows,
            "funding_pct": price.funding_rate * HUNDRED
            if price and price.funding_rate is not None
            else None,
            "maker_pct": info.maker_fee * HUNDRED if info else None,
            "taker_pct": info.taker_fee * HUNDRED if info else None,
        },
    )


@login_required
def symbol_candles(request: HttpRequest, venue: str, symbol: str) -> JsonResponse:
    user_id = user_id_of(request)
    _symbol_or_404(user_id, venue, symbol)
    resolution = request.GET.get("resolution", charts.DEFAULT_RESOLUTION)
    if resolution not in charts.RESOLUTIONS:
        return JsonResponse({"error": "Unknown resolution."}, status=400)
    try:
        mine = ExchangeAccount.objects.filter(owner_id=user_id, venue=venue)
        endpoints = _market_endpoints(venue, mine.order_by("pk").first())
        candles = charts.candles(endpoints, symbol, resolution, timezone.now(), venue)
    except charts.CandlesUnavailable as exc:
        return JsonResponse({"error": str(exc)}, status=502)
    change = charts.range_change_pct(candles)
    return JsonResponse(
        {
            "candles": candles,
            "resolution_s": charts.RESOLUTIONS[resolution].seconds,
            # The page's "change over the chart range" follows the resolution shown.
            "change_pct": None if change is None else str(change),
        }
    )
