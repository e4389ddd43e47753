"""The one way the project reaches Redis: one client per process, built from ``REDIS_URL``.

Replies are decoded to ``str``; callers that read numbers convert them. The short timeouts make
a Redis outage an error the caller reports (``/healthz``, a refused login) rather than a hang.
The connection pool checks the process id, so a client made before a Celery fork is safe to use
after it.
"""

from __future__ import annotations

import redis
from django.conf import settings

_client: redis.Redis | None = None
_url: str | None = None


def redis_client() -> redis.Redis:
    """This process's Redis client (a new one if ``REDIS_URL`` changed, as tests may do)."""
    global _client, _url
    if _client is None or _url != settings.REDIS_URL:
        _url = settings.REDIS_URL
        _client = redis.Redis.from_url(
            _url, socket_connect_timeout=2, socket_timeout=2, decode_responses=True
        )
    return _client
