"""Django settings for StandX Portfolio, read only from the environment.

Every variable is listed, with a comment, in ``.env.example``. With no ``DATABASE_URL`` /
``REDIS_URL`` the embedded PostgreSQL and Redis under ``./var/`` are started (see
``standx_web.embedded``); there is no SQLite and no in-memory fallback anywhere.
"""

from __future__ import annotations

import atexit
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from standx_web import embedded
from standx_web.env import (
    database_config,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_optional,
    env_str,
    env_url,
    redis_url,
)
from standx_web.vapid import VapidConfigError, vapid_keys

BASE_DIR = Path(__file__).resolve().parent.parent

# GENERAL
# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = env_bool("DEBUG", default=False)
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
if DEBUG:
    # A development convenience only: with DEBUG off a real key is required.
    SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-do-not-deploy")
else:
    SECRET_KEY = env_str("SECRET_KEY")
if len(SECRET_KEY) < 32 and not DEBUG:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Demo mode (`make run`) creates the demo/demo login; never set it in production.
DEMO_MODE = env_bool("STANDX_DEMO", default=False)

INSTALLED_APPS = [
    # daphne first, so `runserver` is the ASGI one (Channels' installation docs).
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "accounts",
    "portfolio",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # NUL characters and overlong addresses get their sentence before anything reads them.
    "standx_web.request_limits.RequestLimitsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.sessions.middleware.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "standx_web.urls"
WSGI_APPLICATION = "standx_web.wsgi.application"
ASGI_APPLICATION = "standx_web.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portfolio.dashboard.context_processors.alerts",
            ],
        },
    },
]

# DATABASES
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
_database_url = env_optional("DATABASE_URL")
_redis_url = env_optional("REDIS_URL")
if _database_url is None or _redis_url is None:
    if _database_url is None:
        _database_url = embedded.database_url()
    if _redis_url is None:
        _redis_url = embedded.redis_url()
    # Child processes (daphne, workers, test servers) attach to the same servers.
    os.environ["DATABASE_URL"] = _database_url
    os.environ["REDIS_URL"] = _redis_url
    atexit.register(embedded.stop_owned)
DATABASES = {"default": database_config(_database_url)}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# Persistent connections: worth it in Celery workers (a connection per task costs more CPU than
# a quiet account's whole sync); keep 0 for daphne, where Django advises against them.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
REDIS_URL = redis_url(_redis_url)

# AUTHENTICATION
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portfolio:overview"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Sessions live in PostgreSQL under a hash of their key (accounts/sessions/store.py): a copy of
# the database holds no cookie that signs anyone in.
SESSION_ENGINE = "accounts.sessions.store"
# TWO-FACTOR SIGN-IN
# Accounts linked in trading mode need a second factor (authenticator app or passkey) when on:
# linking with a signing key, and trading, are refused in words until one is set up.
REQUIRE_SECOND_FACTOR_FOR_TRADING = env_bool("REQUIRE_SECOND_FACTOR_FOR_TRADING", default=False)
# How long a shown second factor counts for the kill switch, unlinking and factor changes.
STEP_UP_SECONDS = env_int("STEP_UP_SECONDS", 5 * 60, minimum=30)
# Passkeys' relying party: empty = the host name the page is served from (a domain or localhost).
WEBAUTHN_RP_ID = env_str("WEBAUTHN_RP_ID", "")
if env_bool("FAST_PASSWORD_HASHER", default=False):
    # Tests only: PBKDF2 at full strength makes every login in the suite take ~0.3 s.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# INTERNATIONALIZATION
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# STATIC FILES (served by whitenoise; `manage.py collectstatic` fills STATIC_ROOT)
# https://whitenoise.readthedocs.io/en/stable/django.html
STATIC_URL = "static/"
STATICFILES_DIRS: list[Path | tuple[str, Path]] = [BASE_DIR / "static"]
# lightweight-charts from npm (`make install`), served as static/vendor/lightweight-charts/.
CHARTS_DIST = BASE_DIR / "node_modules" / "lightweight-charts" / "dist"
if CHARTS_DIST.is_dir():
    STATICFILES_DIRS.append(("vendor/lightweight-charts", CHARTS_DIST))
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# SECURITY
# https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
# Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER_ENABLED=true.
if env_bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# The preload flag only allows a submission to the browsers' list; nothing is submitted for you.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
# /healthz is probed over plain HTTP by load balancers and compose health checks.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_HTTPONLY = True
# Two weeks, renewed on activity; a closed browser does not keep a trading session forever.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600, minimum=300)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# CREDENTIAL ENCRYPTION
# Keys for the StandX tokens and signing keys stored at rest; separate from SECRET_KEY so they
# can be rotated on their own. Comma-separated, base64 of 32 bytes each: the first encrypts,
# all decrypt. Checked where they are used, so the web process fails loudly on a bad key.
CREDENTIAL_KEYS = env_list("CREDENTIAL_KEYS", [])

# STANDX ENDPOINTS (defaults: the real exchange; point them at `python -m standx_sim` to simulate)
STANDX_PERPS_URL = env_url(
    "STANDX_PERPS_URL", "https://perps.standx.com", schemes=("http", "https")
)
STANDX_AUTH_URL = env_url("STANDX_AUTH_URL", "https://api.standx.com", schemes=("http", "https"))
STANDX_WS_URL = env_url(
    "STANDX_WS_URL", "wss://perps.standx.com/ws-stream/v1", schemes=("ws", "wss")
)
STANDX_WS_API_URL = env_url(
    "STANDX_WS_API_URL", "wss://perps.standx.com/ws-api/v1", schemes=("ws", "wss")
)

# Linking accounts on a non-StandX origin (the simulator). On in demo mode and under DEBUG.
STANDX_ALLOW_CUSTOM_ENDPOINTS = env_bool(
    "STANDX_ALLOW_CUSTOM_ENDPOINTS", default=DEBUG or DEMO_MODE
)

# PERPEX ENDPOINTS (defaults: the documented hosts; `python -m perpex_sim` serves both on one
# origin, the socket at /ws). PerpEx's reference is thin: see README "PerpEx: assumptions".
PERPEX_API_URL = env_url("PERPEX_API_URL", "https://api.perpex.io", schemes=("http", "https"))
PERPEX_WS_URL = env_url("PERPEX_WS_URL", "wss://ws.perpex.io", schemes=("ws", "wss"))
# Linking PerpEx accounts on another origin (the simulator). On in demo mode and under DEBUG.
PERPEX_ALLOW_CUSTOM_ENDPOINTS = env_bool(
    "PERPEX_ALLOW_CUSTOM_ENDPOINTS", default=DEBUG or DEMO_MODE
)

# OCX ENDPOINTS (default: OCX's gateway; `python -m ocx_sim` serves REST and SSE on one origin).
OCX_API_URL = env_url("OCX_API_URL", "https://api.ocx.global", schemes=("http", "https"))
# Linking OCX accounts on another origin (the simulator). On in demo mode and under DEBUG.
OCX_ALLOW_CUSTOM_ENDPOINTS = env_bool("OCX_ALLOW_CUSTOM_ENDPOINTS", default=DEBUG or DEMO_MODE)
# The lifetime of the API keys a wallet sign-in mints on OCX (OCX's expiresInDays).
OCX_KEY_DAYS = env_int("OCX_KEY_DAYS", 90, minimum=1)

# The venues this server offers: their accounts can be linked, and their price feeds and
# public market data run (keys of venues.registry).
VENUES = env_list("VENUES", ["standx", "perpex", "ocx"])

# CHANNELS
# https://channels.readthedocs.io/en/latest/topics/channel_layers.html
CHANNEL_LAYERS = {
    "default": {
        # channels_redis's layer, with a receive that cannot outlive its cancellation on 3.11.
        "BACKEND": "standx_web.channel_layer.RedisChannelLayer",
        "CONFIG": {
            # A receive is a 5 s blocking pop (RedisChannelLayer.brpop_timeout); redis-py 8's
            # default 5 s socket timeout would end it first and kill every quiet consumer.
            "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
            "prefix": "standx:channels:",
        },
    },
}

# CACHE (shared by web and workers: rate-limit buckets, heartbeats)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "standx",
    },
}

# CELERY
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = REDIS_URL
# We never read task results: state lives in Postgres.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
# A task past the soft limit gets SoftTimeLimitExceeded and can clean up; the hard limit kills it.
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90, minimum=1)
# acks_late is the default because every task here is idempotent (ids, leases, upserts): a task
# lost with its worker is delivered again instead of dropped. Not rejecting on worker loss keeps
# a task that kills its worker from looping forever. The hard time limit stays far below the
# broker's visibility timeout, or a slow task would be handed to a second worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
CELERY_BEAT_SCHEDULE_FILENAME = str(BASE_DIR / "var" / "celerybeat-schedule")
# The worker heartbeat proves beat schedules and a worker consumes; /healthz reads its age.
WORKER_HEARTBEAT_SECONDS = env_int("WORKER_HEARTBEAT_SECONDS", 10, minimum=1)
WORKER_HEARTBEAT_MAX_AGE = env_int("WORKER_HEARTBEAT_MAX_AGE", 60, minimum=1)
PRICESTREAM_MAX_AGE = env_int("PRICESTREAM_MAX_AGE", 60, minimum=1)
# Sync pipeline: how often beat looks for due accounts, and the most it plans per second on any
# one venue (each venue within its own budget: portfolio/sync/dispatch.py).
# Half a second: an account polled every second is then never more than ~1.5 s old.
SYNC_DISPATCH_SECONDS = env_float("SYNC_DISPATCH_SECONDS", 0.5, minimum=0.1)
SYNC_REQUESTS_PER_SECOND = env_int("SYNC_REQUESTS_PER_SECOND", 45, minimum=1)
# A sync's lease: after a crash (kill -9) the account is free again this many seconds later.
SYNC_LEASE_SECONDS = env_int("SYNC_LEASE_SECONDS", 60, minimum=1)
# Account streams (manage.py accountstreams): one authenticated stream per account, leased
# across any number of workers. A worker renews its leases every STREAM_HEARTBEAT_SECONDS; a
# dead worker's accounts are taken over STREAM_LEASE_SECONDS later. A stream that has not
# answered a ping for STREAM_PING_SECONDS is silent (re-opened, its account reconciled); one
# not seen for STREAM_SILENT_SECONDS is left to polling. Streamed accounts are read over REST
# only every STREAM_RECONCILE_SECONDS (and after a reconnect or a gap).
STREAM_WORKER_CAPACITY = env_int("STREAM_WORKER_CAPACITY", 2000, minimum=1)
STREAM_LEASE_SECONDS = env_float("STREAM_LEASE_SECONDS", 6.0, minimum=1.0)
STREAM_HEARTBEAT_SECONDS = env_float("STREAM_HEARTBEAT_SECONDS", 1.5, minimum=0.1)
STREAM_PING_SECONDS = env_float("STREAM_PING_SECONDS", 3.0, minimum=0.5)
STREAM_SILENT_SECONDS = env_float("STREAM_SILENT_SECONDS", 5.0, minimum=1.0)
STREAM_LAG_SECONDS = env_float("STREAM_LAG_SECONDS", 2.0, minimum=0.1)
STREAM_RECONCILE_SECONDS = env_float("STREAM_RECONCILE_SECONDS", 300.0, minimum=1.0)

# EMAIL (critical-alert fallback; console in development and demo)
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
# Where links in alert emails point (the dashboard's public address).
SITE_URL = env_str("SITE_URL", "http://localhost:8000").rstrip("/")
ALERT_SWEEP_SECONDS = env_float("ALERT_SWEEP_SECONDS", 15.0, minimum=1.0)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "StandX Portfolio <alerts@localhost>")

# WEB PUSH (alerts that reach a closed tab; see portfolio/alerts/push.py)
# One stable VAPID pair: browsers' subscriptions are bound to its public key. `make run` keeps a
# pair under ./var/; `python manage.py vapid_keys` prints a new one. Without a private key push
# is unavailable, and `check --deploy` says so while WEB_PUSH_ENABLED is on.
WEB_PUSH_ENABLED = env_bool("WEB_PUSH_ENABLED", default=True)
try:
    VAPID = vapid_keys(
        env_optional("VAPID_PRIVATE_KEY"),
        env_optional("VAPID_PUBLIC_KEY"),
        env_optional("VAPID_SUBJECT"),
    )
except VapidConfigError as exc:
    raise ImproperlyConfigured(str(exc)) from None
# Subscriptions name the URL our workers POST to: only the browsers' push services are accepted
# (an allowlist of host suffixes), or any http(s) URL in development, the demo and tests, where a
# local push-service stand-in receives them.
WEB_PUSH_SERVICE_HOSTS = env_list(
    "WEB_PUSH_SERVICE_HOSTS",
    [
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "push.services.mozilla.com",
        "push.apple.com",
        "notify.windows.com",
    ],
)
WEB_PUSH_ALLOW_ANY_ENDPOINT = env_bool("WEB_PUSH_ALLOW_ANY_ENDPOINT", default=DEBUG or DEMO_MODE)
WEB_PUSH_TIMEOUT = env_float("WEB_PUSH_TIMEOUT", 10.0, minimum=1.0)

# LOGGING
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # Never log request headers: they carry StandX tokens and signatures.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
