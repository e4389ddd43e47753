"""The installable app and Web Push: service worker, manifest, subscriptions, the devices page."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import cache_control, never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from portfolio.alerts import push
from portfolio.dashboard.auth import user_id_of
from portfolio.domain.devices import SubscriptionError
from portfolio.models import PushSubscription

THEME_LIGHT, THEME_DARK = "#0f766e", "#0d1117"


@require_GET
@never_cache
def service_worker(request: HttpRequest) -> HttpResponse:
    """``/sw.js`` from the site root, so its scope is the whole dashboard; never cached and
    never under a hashed static name (a browser must always find the newest worker here)."""
    response = render(
        request,
        "sw.js",
        {
            "config": json.dumps(
                {
                    "ICON": static("img/icon-192.png"),
                    "BADGE": static("img/badge-72.png"),
                    "APP_KEY": push.public_key(),
                    "RENEW_URL": reverse("portfolio:push_renew"),
                }
            )
        },
        content_type="text/javascript; charset=utf-8",
    )
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
@cache_control(max_age=3600)
def manifest(request: HttpRequest) -> JsonResponse:
    """The web app manifest: installable to a phone's home screen (iOS needs that for push)."""
    icons = [
        {"src": static(f"img/icon-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png"}
        for size in (192, 512)
    ]
    icons.append(
        {
            "src": static("img/icon-maskable-512.png"),
            "sizes": "512x512",
            "type": "image/png",
            "purpose": "maskable",
        }
    )
    icons.append({"src": static("img/favicon.svg"), "sizes": "any", "type": "image/svg+xml"})
    data: dict[str, Any] = {
        "name": "StandX Portfolio",
        "short_name": "Portfolio",
        "description": "Positions, liquidation distance and margin health, with alerts.",
        "id": "/",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": THEME_DARK,
        "theme_color": THEME_LIGHT,
        "icons": icons,
    }
    return JsonResponse(data, content_type="application/manifest+json")


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; so is bad JSON
        return None


def _remember_device(request: HttpRequest, subscription_id: int) -> None:
    ids = [i for i in request.session.get(push.SESSION_DEVICES, []) if i != subscription_id]
    request.session[push.SESSION_DEVICES] = [*ids, subscription_id]


@login_required
@require_POST
def subscribe(request: HttpRequest) -> JsonResponse:
    """The page's one-tap "Turn on push": the browser's subscription, stored for this user."""
    if not push.push_available():
        return JsonResponse({"error": "Push is not set up on this server."}, status=503)
    try:
        row = push.subscription_save(
            user_id=user_id_of(request),
            data=_json_body(request),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except SubscriptionError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    _remember_device(request, row.pk)
    return JsonResponse({"id": row.pk, "device": row.device_label}, status=201)


@csrf_exempt  # a service worker cannot read the CSRF cookie; same-origin is checked instead
@login_required
@require_POST
def renew(request: HttpRequest) -> JsonResponse:
    """The service worker's ``pushsubscriptionchange``: keep the device, new endpoint and keys."""
    site = request.build_absolute_uri("/").rstrip("/")
    if request.headers.get("Origin") != site:
        return JsonResponse({"error": "Cross-site request refused."}, status=403)
    body = _json_body(request)
    if not isinstance(body, dict):
        return JsonResponse({"error": "Expected JSON."}, status=400)
    old = body.get("old_endpoint")
    try:
        row = push.subscription_renew(
            user_id=user_id_of(request),
            old_endpoint=old if isinstance(old, str) else None,
            data=body.get("subscription"),
            user_agent=request.headers.get("User-Agent", ""),
        )
    except SubscriptionError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    _remember_device(request, row.pk)
    return JsonResponse({"id": row.pk, "device": row.device_label})


@login_required
@require_POST
def unsubscribe(request: HttpRequest) -> JsonResponse:
    """The page's "Turn off on this device" (the browser has unsubscribed already)."""
    body = _json_body(request)
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    removed = isinstance(endpoint, str) and push.subscription_remove_endpoint(
        user_id=user_id_of(request), endpoint=endpoint
    )
    return JsonResponse({"removed": bool(removed)})


@login_required
def devices(request: HttpRequest) -> HttpResponse:
    # The page marks "this device" by comparing hashes: the endpoint itself is a capability
    # URL and is never put in a page.
    rows = [
        (row, hashlib.sha256(row.endpoint.encode()).hexdigest())
        for row in PushSubscription.objects.filter(user_id=user_id_of(request))
    ]
    return render(
        request,
        "portfolio/devices.html",
        {"devices": rows, "push_available": push.push_available()},
    )


@login_required
@require_POST
def device_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if push.subscription_remove(user_id=user_id_of(request), subscription_id=pk):
        messages.success(request, "Device removed: it gets no more pushes.")
    else:
        messages.error(request, "That device is already gone.")
    return redirect("portfolio:devices")


@transaction.non_atomic_requests  # a request to a push service: no transaction across it
@login_required
@require_POST
def device_test(request: HttpRequest, pk: int) -> HttpResponse:
    outcome = push.push_send_check(user_id=user_id_of(request), subscription_id=pk)
    if outcome is None:
        messages.error(request, "That device is gone, or push is not set up on this server.")
    elif outcome.status == "accepted":
        messages.success(request, f"Test alert sent. {outcome.detail}")
    else:
        messages.error(request, f"Test alert not delivered. {outcome.detail}")
    return redirect("portfolio:devices")
