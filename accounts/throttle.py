"""Login throttling: repeated failures from one IP or for one username lock logins for a while.

Counters live in the shared cache (Redis), so every web process sees the same numbers.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache

MAX_FAILURES = 5
WINDOW_S = 15 * 60
LOCK_S = 15 * 60


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()[:32]
    return f"login-fail:{kind}:{digest}"


def _keys(ip: str | None, username: str | None) -> list[str]:
    keys = []
    if ip:
        keys.append(_key("ip", ip))
    if username:
        keys.append(_key("user", username))
    return keys


def locked_for(ip: str | None, username: str | None) -> int:
    """Seconds until logins are allowed again (0: not locked)."""
    for key in _keys(ip, username):
        if cache.get(key + ":locked"):
            ttl = cache.ttl(key + ":locked") if hasattr(cache, "ttl") else LOCK_S
            return int(ttl or LOCK_S)
    return 0


def record_failure(ip: str | None, username: str | None) -> None:
    for key in _keys(ip, username):
        cache.add(key, 0, WINDOW_S)
        try:
            count = cache.incr(key)
        except ValueError:
            cache.set(key, 1, WINDOW_S)
            count = 1
        if count >= MAX_FAILURES:
            cache.set(key + ":locked", 1, LOCK_S)


def clear(ip: str | None, username: str | None) -> None:
    for key in _keys(ip, username):
        cache.delete_many([key, key + ":locked"])
