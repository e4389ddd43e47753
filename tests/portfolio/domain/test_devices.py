"""Device names from user agents, and the subscriptions a browser may store."""

from __future__ import annotations

import base64
import os

import pytest

from portfolio.domain.devices import SubscriptionError, device_label, subscription_parse

HOSTS = ["fcm.googleapis.com", "push.apple.com", "updates.push.services.mozilla.com"]
P256DH = base64.urlsafe_b64encode(b"\x04" + os.urandom(64)).rstrip(b"=").decode()
AUTH = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("user_agent", "label"),
    [
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) Version/17.4 Safari/604.1",
            "Safari on iPhone",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64) Chrome/131.0 Safari/537.36 Edg/131.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox on macOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) SamsungBrowser/25.0 Chrome/121.0 Mobile Safari/537.36",
            "Samsung Internet on Android",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0.0.0 Safari/537.36",
            "Headless Chrome on Linux",
        ),
        ("curl/8.5", "Browser"),
        ("", "Browser"),
    ],
)
def test_it_names_the_device_as_a_trader_knows_it(user_agent: str, label: str) -> None:
    assert device_label(user_agent) == label


def sub(endpoint: str, p256dh: str = P256DH, auth: str = AUTH) -> dict[str, object]:
    return {"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}}


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://fcm.googleapis.com/fcm/send/abc:def",
        "https://web.push.apple.com/QGx1",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAA",
    ],
)
def test_it_accepts_the_browsers_push_services(endpoint: str) -> None:
    parsed = subscription_parse(sub(endpoint), service_hosts=HOSTS, allow_any_endpoint=False)
    assert (parsed.endpoint, parsed.p256dh, parsed.auth) == (endpoint, P256DH, AUTH)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (sub("http://fcm.googleapis.com/x"), "must be an https URL"),
        (sub("https://169.254.169.254/latest/meta-data"), "not an address"),
        (sub("https://internal.example.com/push"), "internal.example.com is not a push service"),
        (sub("https://fcm.googleapis.com.evil.test/x"), "is not a push service"),
        (sub("https://fcm.googleapis.com/x", p256dh="AAAA"), "not a P-256 public key"),
        (sub("https://fcm.googleapis.com/x", auth="AAAA"), "not 16 bytes"),
        (sub("https://fcm.googleapis.com/x", auth="!!!"), "not base64url"),
        ({"endpoint": "https://fcm.googleapis.com/x"}, "no endpoint or keys"),
        ([], "Expected the browser's push subscription"),
        (sub("https://fcm.googleapis.com/" + "x" * 1000), "too long"),
    ],
)
def test_it_refuses_what_would_aim_our_workers_elsewhere_in_plain_words(
    data: object, message: str
) -> None:
    with pytest.raises(SubscriptionError, match=message):
        subscription_parse(data, service_hosts=HOSTS, allow_any_endpoint=False)


def test_a_local_stand_in_is_accepted_only_when_any_endpoint_is_allowed() -> None:
    local = sub("http://127.0.0.1:8766/push/1")
    assert subscription_parse(local, service_hosts=HOSTS, allow_any_endpoint=True).endpoint
    with pytest.raises(SubscriptionError):
        subscription_parse(local, service_hosts=HOSTS, allow_any_endpoint=False)
    with pytest.raises(SubscriptionError, match="not an http"):
        subscription_parse(sub("file:///etc/passwd"), service_hosts=HOSTS, allow_any_endpoint=True)
