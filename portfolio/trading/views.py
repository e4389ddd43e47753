"""Trading pages: the order form with preview, one-click risk actions, the kill switch and the
activity (audit) page. Views parse and render; ``portfolio.trading.services`` signs and sends."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.twofactor.services import user_has_second_factor
from accounts.twofactor.stepup import step_up_required
from portfolio.alerts.evaluation import risk_inputs_of
from portfolio.dashboard import selectors
from portfolio.dashboard.auth import user_id_of
from portfolio.domain import order_rules
from portfolio.models import AuditEntry, AuditStatus
from portfolio.params import back_to, row_id
from portfolio.trading import services as trading
from portfolio.trading.forms import KillSwitchForm, OrderForm, PositionAdjustForm

ACTIVITY_PAGE = 50
# What a link may fill in on the order form (a position's "Order" button, a fix).
PREFILLED = (
    "account",
    "symbol",
    "side",
    "order_type",
    "qty",
    "price",
    "reduce_only",
    "time_in_force",
)
FRACTIONS = {"1": Decimal(1), "0.5": Decimal("0.5"), "0.25": Decimal("0.25")}


def _preview(form: OrderForm, user_id: int) -> order_rules.Preview | None:
    if form.ticket is None or form.rules is None or form.mark is None:
        return None
    ctx = selectors.risk_context(user_id)
    view = next((v for v in ctx.views if v.account.pk == form.cleaned_data["account"]), None)
    if view is None:
        return None
    account, positions = risk_inputs_of(view, ctx.ticks)
    others = [p for p in positions if p.symbol != form.ticket.symbol]
    return order_rules.preview(form.ticket, form.rules, form.position, form.mark, account, others)


@transaction.non_atomic_requests  # calls a venue: no transaction across it
@login_required
def order_new(request: HttpRequest) -> HttpResponse:
    user_id = user_id_of(request)
    preview = None
    if request.method == "POST":
        form = OrderForm(request.POST, user_id=user_id)
        if not form.is_valid():
            messages.error(request, "The order was not sent: see the fields marked below.")
        elif request.POST.get("action") == "submit":
            assert form.ticket is not None
            try:
                entry = trading.order_submit(
                    user_id=user_id,
                    account_id=form.cleaned_data["account"],
                    ticket=form.ticket,
                    cl_ord_id=form.cleaned_data["cl_ord_id"],
                )
            except trading.TradingError as exc:
                messages.error(request, str(exc))
            else:
                return redirect(f"{reverse('portfolio:order_new')}?sent={entry.pk}")
        else:
            preview = _preview(form, user_id)
    else:
        initial = {
            "cl_ord_id": trading.new_cl_ord_id(),
            "order_type": "limit",
            "side": "buy",
            "time_in_force": "gtc",
        }
        for name in PREFILLED:
            if name in request.GET:
                initial[name] = request.GET[name]
        if request.GET.get("preview") and "qty" in request.GET:
            # A fix's link: the order filled in and checked, with its preview; it is sent only
            # when the trader presses "Sign and send" (a POST).
            form = OrderForm(initial, user_id=user_id)
            if form.is_valid():
                preview = _preview(form, user_id)
        else:
            form = OrderForm(initial=initial, user_id=user_id)
    sent = None
    if (sent_id := row_id(request.GET.get("sent"))) is not None:
        sent = AuditEntry.objects.filter(pk=sent_id, user_id=user_id).first()
    return render(
        request,
        "portfolio/order_new.html",
        {
            "form": form,
            "preview": preview,
            "sent": sent,
            "has_trading": bool(form.trading_accounts),
            "adjust_form": PositionAdjustForm(
                initial={
                    "account": form["account"].value(),
                    "symbol": form["symbol"].value(),
                    "amount": request.GET.get("amount", ""),  # a fix's margin to add
                },
                user_id=user_id,
            ),
        },
    )


@transaction.non_atomic_requests  # calls a venue: no transaction across it
@login_required
@require_POST
def position_adjust(request: HttpRequest) -> HttpResponse:
    """Add margin, change leverage or change margin mode (from the order page's panel)."""
    user_id = user_id_of(request)
    form = PositionAdjustForm(request.POST, user_id=user_id)
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            messages.error(request, f"{label or 'Adjust'}: {' '.join(str(e) for e in errors)}")
        return redirect("portfolio:order_new")
    d = form.cleaned_data
    if d["action"] == "add_margin":
        _act(
            request,
            lambda: trading.margin_add(
                user_id=user_id,
                account_id=d["account"],
                symbol=d["symbol"],
                amount=d["amount"],
            ),
        )
    elif d["action"] == "leverage":
        _act(
            request,
            lambda: trading.leverage_change(
                user_id=user_id,
                account_id=d["account"],
                symbol=d["symbol"],
                leverage=d["leverage"],
            ),
        )
    else:
        _act(
            request,
            lambda: trading.margin_mode_change(
                user_id=user_id,
                account_id=d["account"],
                symbol=d["symbol"],
                mode=d["margin_mode"],
            ),
        )
    return redirect("portfolio:order_new")


def _report(request: HttpRequest, entry: AuditEntry) -> None:
    failed = entry.status in (AuditStatus.REJECTED, AuditStatus.FAILED)
    text = entry.result or entry.get_status_display()
    (messages.error if failed else messages.success)(request, text)


def _act(request: HttpRequest, action: Callable[[], AuditEntry]) -> None:
    """Run one trading action and tell the user its outcome or why it was refused."""
    try:
        _report(request, action())
    except trading.TradingError as exc:
        messages.error(request, str(exc))


@transaction.non_atomic_requests  # calls a venue: no transaction across it
@login_required
@require_POST
def position_close(request: HttpRequest, account_id: int, symbol: str) -> HttpResponse:
    fraction = FRACTIONS.get(request.POST.get("fraction", ""))
    if fraction is None:
        messages.error(request, "Choose how much of the position to close.")
    else:
        _act(
            request,
            lambda: trading.position_close(
                user_id=user_id_of(request),
                account_id=account_id,
                symbol=symbol,
                fraction=fraction,
            ),
        )
    return back_to(request, "portfolio:positions")


@transaction.non_atomic_requests  # calls a venue: no transaction across it
@login_required
@require_POST
def order_cancel(request: HttpRequest, account_id: int, order_id: str) -> HttpResponse:
    _act(
        request,
        lambda: trading.order_cancel(
            user_id=user_id_of(request),
            account_id=account_id,
            order_id=order_id,
        ),
    )
    return back_to(request, "portfolio:orders")


@transaction.non_atomic_requests  # calls a venue: no transaction across it
@login_required
@require_POST
def orders_cancel_all(request: HttpRequest, account_id: int) -> HttpResponse:
    _act(
        request,
        lambda: trading.orders_cancel_all(
            user_id=user_id_of(request),
            account_id=account_id,
        ),
    )
    return back_to(request, "portfolio:orders")


def _kill_switch_form(request: HttpRequest, data: QueryDict | None = None) -> KillSwitchForm:
    form = KillSwitchForm(data, user=request.user)
    if isinstance(request.user, User) and user_has_second_factor(request.user):
        del form.fields["password"]  # the second factor, asked by step-up, stands for it
    return form


@transaction.non_atomic_requests  # calls a venue: no transaction across it
@login_required
@step_up_required()
def kill_switch(request: HttpRequest) -> HttpResponse:
    form = _kill_switch_form(request, request.POST or None)
    result = None
    if request.method == "POST":
        if form.is_valid():
            try:
                result = trading.kill_switch(
                    user_id=user_id_of(request), account_id=form.cleaned_data["account"]
                )
            except trading.TradingError as exc:
                messages.error(request, str(exc))
            form = _kill_switch_form(request)
        else:
            messages.error(request, "Nothing was sent: see the fields marked below.")
    return render(request, "portfolio/kill_switch.html", {"form": form, "result": result})


@login_required
def activity(request: HttpRequest) -> HttpResponse:
    query = AuditEntry.objects.filter(user_id=user_id_of(request))
    before = row_id(request.GET.get("before"))
    if before is not None:
        query = query.filter(pk__lt=before)
    rows = list(query.order_by("-id")[: ACTIVITY_PAGE + 1])
    more = len(rows) > ACTIVITY_PAGE
    rows = rows[:ACTIVITY_PAGE]
    if not rows and before is not None:
        raise Http404
    return render(
        request,
        "portfolio/activity.html",
        {"entries": rows, "next_before": rows[-1].pk if more else None},
    )
