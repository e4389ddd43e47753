"""Settings loaded in a fresh interpreter, as a deployment would load them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import channels_redis.core
from django.conf import settings
from django.utils.module_loading import import_string

from standx_web.vapid import generate_private_key

BASE_DIR = Path(__file__).resolve().parents[2]
DEPLOY_ENV = {
    "SECRET_KEY": "a-long-random-production-secret-key-0123456789abcdef",
    "ALLOWED_HOSTS": "portfolio.example.com",
    "CREDENTIAL_KEYS": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
    "VAPID_PRIVATE_KEY": generate_private_key(),
    "VAPID_SUBJECT": "mailto:ops@portfolio.example.com",
    "WEB_PUSH_ALLOW_ANY_ENDPOINT": "false",
}
SECURITY_VARS = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "FAST_PASSWORD_HASHER",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in SECURITY_VARS and k != "SECRET_KEY"}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_when_debug_is_off() -> None:
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **DEPLOY_ENV)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_check_deploy_fails_in_words_when_push_is_on_without_a_vapid_key() -> None:
    env = {**DEPLOY_ENV, "VAPID_PRIVATE_KEY": "", "VAPID_SUBJECT": ""}
    result = run_manage("check", "--deploy", **env)
    assert result.returncode != 0
    assert "Web Push is on (WEB_PUSH_ENABLED) but VAPID_PRIVATE_KEY is not set" in result.stderr
    off = run_manage("check", "--deploy", "--fail-level", "WARNING", **env, WEB_PUSH_ENABLED="0")
    assert off.returncode == 0, off.stderr


def test_it_refuses_to_start_with_a_vapid_key_that_is_not_one() -> None:
    result = run_manage("check", **{**DEPLOY_ENV, "VAPID_PRIVATE_KEY": "hunter2"})
    assert result.returncode != 0
    assert "VAPID_PRIVATE_KEY is not a P-256 private key" in result.stderr
    assert "hunter2" not in result.stderr


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off() -> None:
    env = {k: v for k, v in DEPLOY_ENV.items() if k != "SECRET_KEY"}
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert "SECRET_KEY is required" in result.stderr


def test_it_fails_loudly_on_a_bad_boolean() -> None:
    result = run_manage("check", **DEPLOY_ENV, DEBUG="sometimes")
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_it_fails_loudly_on_a_bad_standx_url() -> None:
    result = run_manage("check", **DEPLOY_ENV, STANDX_WS_URL="https://perps.standx.com")
    assert result.returncode != 0
    assert "STANDX_WS_URL must be an absolute ws:// or wss:// URL" in result.stderr


def test_debug_is_off_and_the_real_standx_hosts_are_the_defaults() -> None:
    result = run_manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.STANDX_PERPS_URL, s.STANDX_AUTH_URL, s.STANDX_WS_URL, "
        "s.STANDX_WS_API_URL)",
        **DEPLOY_ENV,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "https://perps.standx.com",
        "https://api.standx.com",
        "wss://perps.standx.com/ws-stream/v1",
        "wss://perps.standx.com/ws-api/v1",
    ]


def test_the_suite_runs_on_postgres_redis_and_a_real_broker() -> None:
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    layer = import_string(str(settings.CHANNEL_LAYERS["default"]["BACKEND"]))
    assert issubclass(layer, channels_redis.core.RedisChannelLayer)
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    assert not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
    assert settings.CELERY_TASK_SERIALIZER == "json"
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
