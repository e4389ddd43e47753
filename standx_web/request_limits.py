"""Requests no page can take, answered in words before any view runs.

- A NUL character in the path, the query, a form field or a JSON string: PostgreSQL refuses NUL
  in text, so the first query that carried it would fail with a server error; no page needs one.
  Answered 400.
- JSON with more than :data:`MAX_JSON_BRACKETS` lists and objects (the parser recurses per
  level). Answered 400.
- An address longer than :data:`MAX_URL_CHARS`: no link of ours comes near it. Answered 414.
  Longer than daphne's request-line limit (16 kB) it never reaches Django: see
  :mod:`standx_web.http_limits`, which answers those with the same sentence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

MAX_URL_CHARS = 4096
MAX_JSON_BRACKETS = 256
TOO_LONG = (
    "This address is too long for any page here (at most 4096 characters). "
    "Shorten what you typed into it, or start again from the menu."
)
JSON_TOO_NESTED = (
    f"The request's JSON has more than {MAX_JSON_BRACKETS} lists and objects; no page here "
    "takes that many."
)
NUL_REFUSED = (
    "The request contains a NUL character (\\0), which no field here accepts. "
    "Remove it and try again."
)
TEXT = "text/plain; charset=utf-8"


def _has_nul(value: object) -> bool:
    """Whether any string in a decoded JSON value holds NUL (a loop: nesting has no limit)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, dict):
            pending += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            pending += item
    return False


def _json_strings(request: HttpRequest) -> object:
    if request.content_type != "application/json":
        return None
    try:
        return json.loads(request.body)
    except (ValueError, RecursionError):
        return None  # the view says what is wrong with it


def _json_too_nested(request: HttpRequest) -> bool:
    # The JSON parser recurses once per level, in C: thousands of "[" can exhaust the stack of
    # the thread that parses them. Our JSON (a push subscription) has three.
    if request.content_type != "application/json":
        return False
    return request.body.count(b"[") + request.body.count(b"{") > MAX_JSON_BRACKETS


def _form_items(request: HttpRequest) -> Iterable[str]:
    if request.method == "POST":
        # Read (and keep) the raw body first: parsing a multipart form straight from the stream
        # would leave nothing for a view that reads request.body.
        request.body  # noqa: B018
    for query in (request.GET, request.POST):
        for key, values in query.lists():
            yield key
            yield from values


def carries_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path_info:
        return True
    if any("\x00" in text for text in _form_items(request)):
        return True
    return _has_nul(_json_strings(request))


def refusal(request: HttpRequest) -> HttpResponse | None:
    """The answer to a request no page can take; None for every other request."""
    url_chars = len(request.path_info) + len(request.META.get("QUERY_STRING", ""))
    if url_chars > MAX_URL_CHARS:
        return HttpResponse(TOO_LONG, status=414, content_type=TEXT)
    if _json_too_nested(request):
        return HttpResponse(JSON_TOO_NESTED, status=400, content_type=TEXT)
    if carries_nul(request):
        return HttpResponse(NUL_REFUSED, status=400, content_type=TEXT)
    return None


class RequestLimitsMiddleware:
    """:func:`refusal` first, in the server's own mode (sync or async), with no thread hop: it
    reads only what the ASGI handler has already buffered."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        return refusal(request) or self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        refused = refusal(request)
        if refused is not None:
            return refused
        response: HttpResponse = await self.get_response(request)
        return response
