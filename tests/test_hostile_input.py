"""Hostile input at every page: never a server error, never lost data.

Every URL pattern of ``portfolio.urls`` and ``accounts.urls`` is enumerated (a new page is covered
the day it is added). Alice, signed in with a simulated account, a position, trades and an order,
throws hostile values (NUL, huge numbers, NaN and Infinity, extreme dates, very long strings,
non-ASCII digits, SQL and HTML metacharacters, tokens whose claims are such values) at every path
parameter, and at every query parameter and form field a page could read: the fields of every form
class of the two apps, every name the views read from ``request.GET``/``request.POST``, and every
``name=`` in the page as it renders. Each example sends a GET and a POST (a form, or JSON), but
not a method the page refuses outright (405).

Every page meets each value of :data:`SWEEP` in all its fields at once on every run; then
``HOSTILE_EXAMPLES`` made-up examples (default 4, so the file stays fast; derandomized, so the
same on every run). ``HOSTILE_EXAMPLES=200`` explores further.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal as D
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, TypeAlias

import pytest
from django import forms
from django.contrib.auth import forms as auth_forms
from django.test import Client
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import accounts.urls
import portfolio.urls
from accounts.models import Credential, ExchangeAccount, User
from portfolio.models import Alert, AuditEntry, Order, Position, PushSubscription, Trade
from tests.conftest import PASSWORD, market_data_synced
from tests.portfolio.alerts.test_evaluation import hold_sol
from tests.portfolio.dashboard.test_history import trades

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
URL_MODULES: tuple[ModuleType, ...] = (portfolio.urls, accounts.urls)
EXAMPLES = int(os.environ.get("HOSTILE_EXAMPLES", "4"))
SCRIPT = '"><script>alert(1)</script>'


@dataclass(frozen=True)
class Page:
    name: str  # for reverse(): "portfolio:trades", "login"
    converters: dict[str, str]  # path parameter -> "int", "slug" or "str"

    def __str__(self) -> str:
        return self.name


KINDS = {"IntConverter": "int", "SlugConverter": "slug"}


def _walk(patterns: list[Any], namespace: str | None, outer: dict[str, str]) -> Iterator[Page]:
    """Every named page under ``patterns``, through include()s (their prefixes' parameters too)."""
    for pattern in patterns:
        kinds = {
            **outer,
            **{
                param: KINDS.get(type(converter).__name__, "str")
                for param, converter in pattern.pattern.converters.items()
            },
        }
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, pattern.namespace or namespace, kinds)
            continue
        assert isinstance(pattern, URLPattern)
        assert pattern.name, f"{pattern.pattern} has no name"
        yield Page(f"{namespace}:{pattern.name}" if namespace else pattern.name, kinds)


def pages() -> list[Page]:
    found: list[Page] = []
    for module in URL_MODULES:
        found += _walk(module.urlpatterns, getattr(module, "app_name", None), {})
    return found


FormClass: TypeAlias = "type[forms.Form] | type[forms.ModelForm[Any]]"


def _subclasses(base: FormClass) -> Iterator[FormClass]:
    for cls in base.__subclasses__():
        yield cls
        yield from _subclasses(cls)


@cache
def form_field_names() -> frozenset[str]:
    """The fields of every form class of the two apps and of the auth forms the login pages
    use, with the prefixes the pages give them."""
    names: set[str] = set()
    classes = [*_subclasses(forms.Form), *_subclasses(forms.ModelForm)]
    ours = [c for c in classes if c.__module__.split(".")[0] in ("portfolio", "accounts")]
    for cls in [*ours, auth_forms.PasswordChangeForm, auth_forms.AuthenticationForm]:
        names |= set(cls.base_fields)
    return frozenset(names)


READ_IN_VIEWS = re.compile(r"request\.(?:GET|POST)(?:\.get\(|\[)\s*[\"'](\w+)[\"']")
IN_TEMPLATES = re.compile(r"\bname=[\"']([\w-]+)[\"']")


@cache
def names_read_by_views() -> frozenset[str]:
    found: set[str] = set()
    for package in ("portfolio", "accounts"):
        for path in (ROOT / package).rglob("*.py"):
            found |= set(READ_IN_VIEWS.findall(path.read_text()))
    return frozenset(found)


def names_in_page(html: str) -> set[str]:
    return set(IN_TEMPLATES.findall(html)) - {"csrfmiddlewaretoken"}


# -- hostile values ------------------------------------------------------------------------------


def jwt_with(claims: str) -> str:
    def part(raw: str) -> str:
        return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()

    return ".".join([part('{"alg": "HS256", "typ": "JWT"}'), part(claims), "c2ln"])


HUGE_NUMBERS = ["1e20", "-1e20", "1e30", "-1e30", str(2**63), str(-(2**63)), "9" * 40, "1e999"]
NOT_NUMBERS = ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "nan"]
WALLET = "bsc_0x" + "ab" * 20
TOKENS = [
    *(
        jwt_with(f'{{"sub": "{WALLET}", "exp": {exp}}}')
        for exp in [*HUGE_NUMBERS[:6], "Infinity", "NaN", '"soon"', "null"]
    ),
    jwt_with('{"address": "' + SCRIPT.replace('"', "'") + '", "exp": 1}'),
    jwt_with("[]"),
]
FIXED = [
    "\x00",
    "a\x00b",
    "BTC-USD\x00",
    *HUGE_NUMBERS,
    *NOT_NUMBERS,
    "0",
    "-0",
    "-1",
    "0.0000000000000000000001",
    "1.",
    ".",
    "..",
    "1.2.3",
    "1_000",
    "+1",
    " 1 ",
    "1e3",
    "0x10",
    "١٢",
    "\u0663.\u0665",
    "²",
    "\uff11\uff12",
    "߁",
    "0001-01-01",
    "9999-12-31",
    "10000-01-01",
    "-0001-01-01",
    "1970-01-01",
    "2026-02-30",
    "9999-12-31T23:59:59",
    "0000-00-00",
    "' OR '1'='1",
    "'; DROP TABLE portfolio_trade; --",
    "%",
    "_",
    "\\",
    "%00",
    "%25",
    SCRIPT,
    "{{ 7*7 }}",
    "../../../../etc/passwd",
    "javascript:alert(1)",
    "//evil.example",
    "\u202egnp.exe",
    "🙂" * 10,
    "\r\nSet-Cookie: x=1",
    "A" * 3000,
    "é" * 1500,
    "9" * 2000,
    *TOKENS,
]
hostile: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(FIXED),
    st.text(max_size=30),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.dates().map(lambda d: d.isoformat()),
)
# Path parameters: a str converter takes no "/"; an int one only ASCII digits. Never a small int
# (it could be the id of one of alice's own rows: "unlink" is a valid thing to ask).
hostile_str_param = hostile.filter(lambda v: v and "/" not in v and v not in (".", ".."))
# A slug parameter (a venue's key) reaches the page only as a slug: odd, unknown and long ones.
hostile_slug_param = st.sampled_from(["nowhere", "0", "-", "_", "a" * 300, "standx-", "PERPEX"])
hostile_int_param = st.sampled_from(["0", str(2**31), str(2**63), "9" * 40]) | st.integers(
    min_value=10**12, max_value=10**40
).map(str)


# Every page meets each of these in every field and path parameter at once, on every run: one of
# each kind of trouble (the random examples then try the rest of FIXED and made-up values).
SWEEP = [
    "\x00",
    "9999-12-31",
    "0001-01-01",
    "-1",
    "9" * 40,
    "1e308",
    "NaN",
    "-Infinity",
    "\u00b2",
    "\u0661\u0662",
    "1_000",
    " 1 ",
    "A" * 3000,
    "' OR '1'='1",
    SCRIPT,
    "//evil.example",
    jwt_with(f'{{"sub": "{WALLET}", "exp": 1e30}}'),
    jwt_with(f'{{"sub": "{WALLET}", "exp": NaN}}'),
]


def _path_value(value: str, kind: str) -> str:
    if kind == "int":
        return value if value.isascii() and value.isdigit() and len(value) > 12 else str(2**63)
    if kind == "slug":
        return value if re.fullmatch(r"[-a-zA-Z0-9_]+", value) else "nowhere"
    return value if value and "/" not in value and value not in (".", "..") else "x"


def everywhere(value: str, page: Page, names: list[str], as_json: bool) -> dict[str, Any]:
    """One request with ``value`` in every path parameter and field (so each field meets it,
    whatever the others hold: a form cleans every field, valid or not)."""
    path = {param: _path_value(value, kind) for param, kind in page.converters.items()}
    return {"path": path, "fields": dict.fromkeys(names, value), "json": as_json}


@st.composite
def attack(draw: st.DrawFn, page: Page, names: list[str]) -> dict[str, Any]:
    """One hostile request: path parameters, and a value for each name (absent for some); or
    one hostile value everywhere."""
    if draw(st.booleans()):
        return everywhere(draw(hostile), page, names, draw(st.booleans()))
    path = {
        param: draw(
            {"int": hostile_int_param, "slug": hostile_slug_param}.get(kind, hostile_str_param)
        )
        for param, kind in page.converters.items()
    }
    fields = {name: draw(hostile) for name in names if draw(st.booleans())}
    return {"path": path, "fields": fields, "json": draw(st.booleans())}


# -- what must never change -----------------------------------------------------------------------


def alices_data(alice: User) -> dict[str, Any]:
    alice.refresh_from_db()
    linked = ExchangeAccount.objects.filter(owner=alice).order_by("pk")
    return {
        "password": alice.password,
        "accounts": list(linked.values_list("pk", "identity", "mode")),
        "credentials": list(
            Credential.objects.filter(account__owner=alice)
            .order_by("pk")
            .values_list("kind", "secret_encrypted")
        ),
        "positions": Position.objects.filter(account__owner=alice).count(),
        "trades": Trade.objects.filter(account__owner=alice).count(),
        "orders": Order.objects.filter(account__owner=alice).count(),
        "alerts": Alert.objects.filter(rule__user=alice).count(),
        "devices": PushSubscription.objects.filter(user=alice).count(),
        "audit": AuditEntry.objects.filter(user=alice).count(),
    }


@pytest.fixture
def alice_at_home(
    alice: User, alice_linked: ExchangeAccount, sim_url: str, settings: Any
) -> ExchangeAccount:
    """Alice with a simulated account (trading), a SOL position, three trades and an open order.
    The server's own StandX is the simulator, as in demo mode: nothing leaves the machine."""
    ws = "ws" + sim_url.removeprefix("http")
    settings.STANDX_PERPS_URL = settings.STANDX_AUTH_URL = sim_url
    settings.STANDX_WS_URL, settings.STANDX_WS_API_URL = f"{ws}/ws-stream/v1", f"{ws}/ws-api/v1"
    market_data_synced(sim_url)
    hold_sol(alice_linked)
    trades(alice_linked, 3)
    Order.objects.create(
        account=alice_linked,
        exchange_id=7,
        symbol="SOL-USD",
        side="buy",
        order_type="limit",
        status="open",
        qty=D(1),
        price=D(90),
        fill_qty=D(0),
        created_at=timezone.now(),
    )
    return alice_linked


def signed_in(alice: User, client: Client | None = None) -> Client:
    """``client`` (or a new one) with a fresh session of alice's. Reusing a client keeps its
    middleware: building that again scans every static file (WhiteNoise)."""
    client = client or Client(raise_request_exception=False)
    client.cookies.clear()
    client.force_login(alice)
    return client


def still_signed_in(alice: User, client: Client) -> None:
    """Sign alice in again if the last request signed her out (the logout page does)."""
    if client.session.get("_auth_user_id") != str(alice.pk):
        signed_in(alice, client)


def _reverse(page: Page, path: dict[str, str]) -> str:
    return reverse(page.name, kwargs=path or None)


def _send(client: Client, method: str, url: str, fields: dict[str, Any], as_json: bool) -> Any:
    if method == "get":
        return client.get(url, fields)
    if as_json:
        body = {**fields, "keys": dict(fields), "subscription": {**fields, "keys": fields}}
        return client.post(url, json.dumps(body), content_type="application/json")
    return client.post(url, fields)


def page_survives(alice: User, page: Page, client: Client) -> None:
    """Hostile requests at ``page``: every value of SWEEP, then ``EXAMPLES`` made-up ones. No
    answer is a 5xx or echoes a script unescaped; alice loses nothing and stays herself."""
    before = alices_data(alice)
    # No row has id 0: probing a page's methods deletes or changes nothing.
    sample = {p: "0" if kind == "int" else "SOL-USD" for p, kind in page.converters.items()}
    signed_in(alice, client)
    answers = {m: _send(client, m, _reverse(page, sample), {}, False) for m in ("get", "post")}
    # A method the page refuses (405) is refused before any input is read: not worth a request.
    methods = [m for m, answer in answers.items() if answer.status_code != 405]
    rendered = answers["get"]
    html = "" if rendered.streaming else rendered.content.decode(errors="replace")
    names = sorted(form_field_names() | names_read_by_views() | names_in_page(html))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(attack(page, names))
    def survives(sent: dict[str, Any]) -> None:
        url = _reverse(page, sent["path"])
        sent_values = [*sent["path"].values(), *sent["fields"].values()]
        still_signed_in(alice, client)
        for method in methods:
            response = _send(client, method, url, sent["fields"], sent["json"])
            assert response.status_code < 500, (page.name, method, url, response.status_code)
            if not response.streaming and any(SCRIPT in v for v in sent_values):
                echoed = response.content.decode(errors="replace")
                assert SCRIPT not in echoed, (page.name, method, url, "echoed unescaped")

    for index, value in enumerate(SWEEP):
        survives = example(everywhere(value, page, names, as_json=index % 3 == 2))(survives)
    survives()
    assert alices_data(alice) == before, page.name
    assert alice.check_password(PASSWORD), page.name


def test_every_page_of_both_apps_is_enumerated() -> None:
    names = {page.name for page in pages()}
    assert {"portfolio:symbol", "portfolio:order_new", "link_import", "account_unlink"} <= names
    assert "login" in names  # through the sign-in app's include()
    assert len(names) == len(pages())  # every page once


def test_hostile_input_at_every_page_never_gets_a_server_error_or_loses_data(
    alice: User, alice_at_home: ExchangeAccount
) -> None:
    # One test over every page, not one per page: alice's simulated account, market data and
    # history are set up once (a second each), and the pages take the rest of the budget.
    client = signed_in(alice)
    for page in pages():
        page_survives(alice, page, client)
