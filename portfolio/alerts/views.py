"""The alert pages: history, the rules editor with its preview, acknowledge and snooze."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from portfolio.alerts import email_address as alert_email
from portfolio.alerts import evaluation as alerting
from portfolio.alerts.forms import AlertEmailForm, AlertRuleFormSet, AlertSettingsForm, SnoozeForm
from portfolio.dashboard import selectors
from portfolio.dashboard.auth import user_id_of
from portfolio.models import AlertRule, AlertSettings
from portfolio.params import back_to, row_id

HISTORY_PAGE = 50
SNOOZE_TEXT = {30: "30 minutes", 60: "1 hour", 240: "4 hours", 720: "12 hours"}


@login_required
def alert_history(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    page = selectors.alert_history(
        user_id_of(request),
        status=status if status in ("firing", "resolved") else None,
        before_id=row_id(request.GET.get("before")),
        limit=HISTORY_PAGE,
    )
    prefs = AlertSettings.objects.filter(user_id=user_id_of(request)).first()
    return render(
        request,
        "portfolio/alerts.html",
        {
            "alerts": page.rows,
            "next_before": page.next_before,
            "status": status,
            # Email is on (the default) but has nowhere to go: say so where the misses show.
            "email_missing": prefs is None or (prefs.email_critical and not prefs.verified_email),
        },
    )


@login_required
def alert_rules(request: HttpRequest) -> HttpResponse:
    """Edit thresholds and delivery; "Preview" shows what the submitted rules would fire now."""
    user_id = user_id_of(request)
    alerting.rules_create_defaults(user_id)  # users made before rules existed
    rules = AlertRule.objects.filter(user_id=user_id)
    prefs = AlertSettings.objects.get(user_id=user_id)
    preview = None
    if request.method == "POST":
        formset = AlertRuleFormSet(request.POST, queryset=rules, prefix="rules")
        settings_form = AlertSettingsForm(request.POST, instance=prefs, prefix="prefs")
        if formset.is_valid() and settings_form.is_valid():
            if request.POST.get("action") == "preview":
                preview = alerting.rules_preview(user_id, formset.rules())  # type: ignore[attr-defined]
            else:
                alerting.rules_save(user_id, formset, settings_form)
                messages.success(request, "Alert rules saved.")
                return redirect("portfolio:alert_rules")
        else:
            messages.error(request, "Some values need fixing: see the fields marked below.")
    else:
        formset = AlertRuleFormSet(queryset=rules, prefix="rules")
        settings_form = AlertSettingsForm(instance=prefs, prefix="prefs")
    return render(
        request,
        "portfolio/alert_rules.html",
        {
            "formset": formset,
            "settings_form": settings_form,
            "preview": preview,
            "prefs": prefs,
            "email_form": AlertEmailForm(initial={"email": prefs.email}),
        },
    )


@login_required
@require_POST
def alert_email_set(request: HttpRequest) -> HttpResponse:
    form = AlertEmailForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That is not an email address.")
        return redirect(reverse("portfolio:alert_rules") + "#email")
    user_id = user_id_of(request)
    alerting.rules_create_defaults(user_id)
    email = form.cleaned_data["email"]
    alert_email.email_set(user_id, email)
    if email:
        days = alert_email.VERIFY_MAX_AGE.days
        messages.success(
            request, f"We sent a link to {email}: open it within {days} days to confirm."
        )
    else:
        messages.success(request, "Email address removed: critical alerts are not emailed.")
    return redirect(reverse("portfolio:alert_rules") + "#email")


@login_required
def alert_email_verify(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the verification email (a GET, as mail clients open it)."""
    email = alert_email.email_verify(user_id_of(request), token)
    if email:
        messages.success(request, f"Confirmed: critical alerts will be emailed to {email}.")
    else:
        messages.error(
            request,
            "That link is expired, was for another address or login, or was altered. "
            "Save the address again for a new one.",
        )
    return redirect(reverse("portfolio:alert_rules") + "#email")


@login_required
@require_POST
def alert_ack(request: HttpRequest, pk: int) -> HttpResponse:
    if alerting.alert_acknowledge(user_id=user_id_of(request), alert_id=pk) is None:
        raise Http404
    return back_to(request, "portfolio:alerts")


@login_required
@require_POST
def alert_snooze(request: HttpRequest) -> HttpResponse:
    form = SnoozeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose how long to snooze.")
    else:
        minutes = form.cleaned_data["minutes"]
        until = timezone.now() + timedelta(minutes=minutes) if minutes else None
        alerting.alerts_snooze(user_id=user_id_of(request), until=until)
        messages.success(
            request,
            f"Warnings snoozed for {SNOOZE_TEXT.get(minutes, f'{minutes} minutes')}; "
            "critical alerts still come."
            if minutes
            else "Snooze ended.",
        )
    return redirect("portfolio:alerts")
