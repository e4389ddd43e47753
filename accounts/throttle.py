"""Sign-in throttling: the one limiter for the login page (which the admin login also uses),
second-factor codes and emailed sign-in links.

Failures are counted in Redis in fixed windows, so every web process sees the same numbers.
Each :class:`Limit` counts one *scope*: an account from one address, one address whatever the
account, or one account from everywhere. When a count reaches its limit a lock key is set; its
remaining time to live is what the lock message reports. Usernames and addresses are hashed
into the keys: Redis never holds them in clear.

The account-wide ceiling is slower than the others and never locks the owner out: it pauses
sign-in *by password alone*; a second factor or a link emailed to the account's address gets
past it (``accounts.signin``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from standx_web.redis_client import redis_client

PREFIX = "standx:throttle"


@dataclass(frozen=True)
class Limit:
    scope: str
    failures: int  # allowed in one window; the one that reaches it sets the lock
    window_s: int
    lock_s: int


# One account from one address: a forgotten password, or a guesser at one place.
ACCOUNT_AT_ADDRESS = Limit("pair", failures=5, window_s=15 * 60, lock_s=15 * 60)
# One address, whatever the account: someone trying many usernames.
ADDRESS = Limit("address", failures=20, window_s=15 * 60, lock_s=15 * 60)
# One account from every address: a distributed guesser. Bypassed by a second factor or an
# emailed link, so it cannot be used to lock the owner out.
ACCOUNT = Limit("account", failures=50, window_s=60 * 60, lock_s=60 * 60)
# Wrong authenticator codes for one account from everywhere (a thief holding the password);
# passkeys and recovery codes cannot be guessed and stay open.
TOTP_ACCOUNT = Limit("totp", failures=30, window_s=60 * 60, lock_s=60 * 60)
# Emailed sign-in links: a few per account and per address an hour, so nobody floods a mailbox.
LINK_ACCOUNT = Limit("link-account", failures=3, window_s=60 * 60, lock_s=60 * 60)
LINK_ADDRESS = Limit("link-address", failures=10, window_s=60 * 60, lock_s=60 * 60)


def _key(limit: Limit, parts: tuple[str, ...]) -> str:
    joined = "\x00".join(p.strip().lower() for p in parts)
    digest = hashlib.blake2b(joined.encode(), digest_size=16, person=b"standx-throttle").hexdigest()
    return f"{PREFIX}:{limit.scope}:{digest}"


def locked_for(limit: Limit, *parts: str) -> int:
    """Whole seconds until ``parts`` may try again under ``limit`` (0: not locked)."""
    ttl_ms = int(redis_client().pttl(_key(limit, parts) + ":lock"))
    return math.ceil(ttl_ms / 1000) if ttl_ms > 0 else 0


def record_failure(limit: Limit, *parts: str) -> bool:
    """Count one failure; True when this one set the lock."""
    key = _key(limit, parts)
    pipe = redis_client().pipeline(transaction=True)
    pipe.set(key, 0, ex=limit.window_s, nx=True)  # the window starts with its first failure
    pipe.incr(key)
    count = int(pipe.execute()[1])
    if count >= limit.failures:
        redis_client().set(key + ":lock", 1, ex=limit.lock_s)
        redis_client().delete(key)
        return True
    return False


def clear(limit: Limit, *parts: str) -> None:
    key = _key(limit, parts)
    redis_client().delete(key, key + ":lock")


def wait_words(seconds: int) -> str:
    """How long is left, as a person says it: "40 seconds", "1 minute", "14 minutes"."""
    if seconds < 60:
        seconds = max(1, seconds)
        return f"{seconds} second{'s' * (seconds != 1)}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' * (minutes != 1)}"
