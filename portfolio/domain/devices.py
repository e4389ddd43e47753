"""What a push subscription says about its device, checked before it is stored. Pure."""

from __future__ import annotations

import base64
import binascii
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

# Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("FxiOS/", "Firefox"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
)


def device_label(user_agent: str) -> str:
    """A name a trader recognises their device by: "Chrome on Android", "Safari on iPhone"."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "Browser")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    if "HeadlessChrome/" in user_agent:
        browser = "Headless Chrome"
    return f"{browser} on {system}" if system else browser


class SubscriptionError(ValueError):
    """The subscription cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class Subscription:
    endpoint: str
    p256dh: str
    auth: str


def _b64url_bytes(text: str) -> bytes:
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise SubscriptionError("The subscription's keys are not base64url.") from None


def _host_allowed(host: str, suffixes: Iterable[str]) -> bool:
    return any(host == s or host.endswith("." + s) for s in suffixes)


def subscription_parse(
    data: object, *, service_hosts: Iterable[str], allow_any_endpoint: bool
) -> Subscription:
    """``PushSubscription.toJSON()`` from a browser, checked: an https endpoint on a known push
    service (our workers POST to it, so anything else would let a user aim them at an internal
    address), a P-256 public point and a 16-byte auth secret."""
    if not isinstance(data, dict):
        raise SubscriptionError("Expected the browser's push subscription as JSON.")
    endpoint = data.get("endpoint")
    keys = data.get("keys")
    if not isinstance(endpoint, str) or not isinstance(keys, dict):
        raise SubscriptionError("The subscription has no endpoint or keys.")
    p256dh, auth = keys.get("p256dh"), keys.get("auth")
    if not isinstance(p256dh, str) or not isinstance(auth, str):
        raise SubscriptionError("The subscription's keys are missing.")
    if len(endpoint) > 1000:
        raise SubscriptionError("The push endpoint is too long.")
    parts = urlsplit(endpoint)
    host = (parts.hostname or "").lower()
    if allow_any_endpoint:
        if parts.scheme not in ("http", "https") or not host:
            raise SubscriptionError("The push endpoint is not an http(s) URL.")
    else:
        if parts.scheme != "https" or not host:
            raise SubscriptionError("The push endpoint must be an https URL.")
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:
            raise SubscriptionError("The push endpoint must name a push service, not an address.")
        if not _host_allowed(host, service_hosts):
            raise SubscriptionError(
                f"{host} is not a push service this server sends to (WEB_PUSH_SERVICE_HOSTS)."
            )
    point = _b64url_bytes(p256dh)
    if len(point) != 65 or point[0] != 4:
        raise SubscriptionError("The subscription's p256dh key is not a P-256 public key.")
    if len(_b64url_bytes(auth)) != 16:
        raise SubscriptionError("The subscription's auth secret is not 16 bytes.")
    return Subscription(endpoint=endpoint, p256dh=p256dh.rstrip("="), auth=auth.rstrip("="))
