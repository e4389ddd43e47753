from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from standx_web.env import (
    database_config,
    env_bool,
    env_int,
    env_list,
    env_str,
    env_url,
    redis_url,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("true", True),
        ("Yes", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("off", False),
        ("", False),
    ],
)
def test_env_bool_parses_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", default=not expected) is expected


def test_env_bool_rejects_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG must be true or false"):
        env_bool("FLAG", default=False)


def test_env_bool_uses_the_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLAG", raising=False)
    assert env_bool("FLAG", default=True) is True


def test_env_int_rejects_text_and_values_below_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("N", "ten")
    with pytest.raises(ImproperlyConfigured, match="whole number"):
        env_int("N", 1)
    monkeypatch.setenv("N", "-1")
    with pytest.raises(ImproperlyConfigured, match="at least 0"):
        env_int("N", 1, minimum=0)
    monkeypatch.setenv("N", " 42 ")
    assert env_int("N", 1) == 42


def test_env_float_parses_and_checks_its_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    from standx_web.env import env_float

    monkeypatch.setenv("F", "0.5")
    assert env_float("F", 1.0) == 0.5
    monkeypatch.setenv("F", "fast")
    with pytest.raises(ImproperlyConfigured, match="must be a number"):
        env_float("F", 1.0)
    monkeypatch.setenv("F", "0.01")
    with pytest.raises(ImproperlyConfigured, match=r"at least 0\.1"):
        env_float("F", 1.0, minimum=0.1)


def test_env_str_requires_a_value_without_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MISSING_THING", raising=False)
    with pytest.raises(ImproperlyConfigured, match="MISSING_THING is required"):
        env_str("MISSING_THING")


def test_env_str_reads_a_file_variable_first(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory
) -> None:
    secret = tmp_path / "secret"  # type: ignore[operator]
    secret.write_text("from-file\n")
    monkeypatch.setenv("THING", "from-env")
    monkeypatch.setenv("THING_FILE", str(secret))
    assert env_str("THING") == "from-file"


def test_env_str_fails_loudly_on_an_unreadable_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THING_FILE", "/nonexistent/secret")
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env_str("THING")


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOSTS", "a.example, b.example,,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_env_url_checks_the_scheme(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("U", "ftp://perps.standx.com")
    with pytest.raises(ImproperlyConfigured, match="http:// or https://"):
        env_url("U", "https://x", schemes=("http", "https"))
    monkeypatch.setenv("U", "http://127.0.0.1:8100/")
    assert env_url("U", "https://x", schemes=("http", "https")) == "http://127.0.0.1:8100"


def test_database_config_reads_a_tcp_url() -> None:
    config = database_config("postgres://postgres:s%40cret@127.0.0.1:5432/standx?sslmode=prefer")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"], config["PASSWORD"]) == ("standx", "postgres", "s@cret")
    assert (config["HOST"], config["PORT"]) == ("127.0.0.1", "5432")
    assert config["OPTIONS"] == {"sslmode": "prefer"}


def test_database_config_reads_a_socket_directory() -> None:
    config = database_config("postgresql://postgres:@/standx?host=/srv/app/var/pg")
    assert config["HOST"] == "/srv/app/var/pg"
    assert config["OPTIONS"] == {}


@pytest.mark.parametrize(
    "url", ["sqlite:///db.sqlite3", "mysql://root@localhost/standx", "postgres://localhost"]
)
def test_database_config_rejects_other_databases_and_missing_names(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        database_config(url)


def test_redis_url_must_be_redis() -> None:
    assert redis_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    with pytest.raises(ImproperlyConfigured, match="REDIS_URL"):
        redis_url("memory://")
