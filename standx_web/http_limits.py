"""daphne's HTTP server (Twisted) hangs up without a word on a request line or a header line
longer than 16 kB: the browser shows "connection closed", not what went wrong. With
:func:`install` it answers first: 414 for the request line (the same sentence Django's
:mod:`standx_web.request_limits` gives a shorter overlong address), 431 for a header, then
closes the connection as before. Its other refusals (a malformed request, request line and
headers together over 16 kB) get a sentence too instead of a bare status line.
"""

from __future__ import annotations

from typing import Any

from twisted.web import http

from standx_web.request_limits import TOO_LONG

HEADER_TOO_LONG = "A header of this request is too long (over 16 kB); clear this site's cookies."
UNREADABLE = (
    "The server could not read this request: it is malformed, or its address and headers "
    "together pass 16 kB."
)


def _plain_answer(status: str, text: str) -> bytes:
    body = text.encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class AnsweringHTTPChannel(http.HTTPChannel):
    """Twisted's channel, with an answer before it drops an overlong line."""

    def lineLengthExceeded(self, line: bytes) -> None:
        # Twisted's flag (name-mangled): still waiting for the request line.
        if getattr(self, "_HTTPChannel__first_line", True):
            answer = _plain_answer("414 URI Too Long", TOO_LONG)
        else:
            answer = _plain_answer("431 Request Header Fields Too Large", HEADER_TOO_LONG)
        self._answer_and_close(answer)

    def _respondToBadRequestAndDisconnect(self) -> None:
        self._answer_and_close(_plain_answer("400 Bad Request", UNREADABLE))

    def _answer_and_close(self, answer: bytes) -> None:
        transport: Any = self.transport  # zope's ITransport declares write() without self
        transport.write(answer)
        self.loseConnection()


def _channel(factory: http.HTTPFactory) -> http._GenericHTTPChannelProtocol:
    return http._GenericHTTPChannelProtocol(AnsweringHTTPChannel())


def install() -> None:
    """Make daphne's HTTP factory build :class:`AnsweringHTTPChannel` (call before it serves)."""
    from daphne.http_protocol import HTTPFactory

    HTTPFactory.protocol = _channel
