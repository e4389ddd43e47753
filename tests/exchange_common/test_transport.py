"""Clients send through one keep-alive pool per process, each request with its own timeout."""

from __future__ import annotations

import gzip
import http.server
import os
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from exchange_common.transport import KeepAliveTransport, shared_transport
from standx import errors
from standx.rest import Endpoints, StandXClient
from tests.conftest import wait_for
from tests.standx.conftest import sim_control


@pytest.fixture
def endpoints(sim_url: str) -> Iterator[Endpoints]:
    yield Endpoints.for_simulator(sim_url)
    sim_control(sim_url, "DELETE", "/sim/faults")


def test_clients_made_per_call_share_the_process_pool(endpoints: Endpoints) -> None:
    with StandXClient(endpoints=endpoints) as first:
        assert first.query_symbol_price(symbol="BTC-USD").mark_price
    # Closing a client leaves the pool open for the next one (order views make one per request).
    with StandXClient(endpoints=endpoints) as second:
        assert second.query_symbol_price(symbol="BTC-USD").mark_price
    assert first._transport is second._transport is shared_transport()


def test_each_client_keeps_its_own_timeout_on_the_shared_pool(
    sim_url: str, endpoints: Endpoints
) -> None:
    sim_control(
        sim_url,
        "POST",
        "/sim/faults",
        {"endpoint": "query_symbol_price", "latency_ms": 1500, "duration_s": 30},
    )
    quick = StandXClient(endpoints=endpoints, timeout=0.5, max_retries=0)
    with pytest.raises(errors.RequestTimeoutError, match="no answer in time"):
        quick.query_symbol_price(symbol="BTC-USD")
    with StandXClient(endpoints=endpoints, timeout=5.0) as patient:
        assert patient.query_symbol_price(symbol="BTC-USD").mark_price


def test_a_forked_worker_builds_its_own_pool() -> None:
    """Celery's prefork children must not share their parent's sockets."""
    parent = shared_transport()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        os._exit(0 if shared_transport() is not parent else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert shared_transport() is parent


class Origin(http.server.ThreadingHTTPServer):
    """A real HTTP/1.1 server on loopback whose connection handling a test can change."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), OriginHandler)
        self.connections = 0
        self.closed = 0
        self.requests: list[str] = []
        # "ok"; "close-after": answer, then close without saying so (a keep-alive timeout);
        # "drop": read the request and close without answering.
        self.mode = "ok"

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        super().shutdown_request(request)
        self.closed += 1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class OriginHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Origin

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def do_GET(self) -> None:
        self.answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.answer()

    def answer(self) -> None:
        self.server.requests.append(f"{self.command} {self.path}")
        if self.server.mode == "drop":
            self.close_connection = True
            return
        body = gzip.compress(b'{"ok": true}')
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-encoding", "gzip")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = self.server.mode == "close-after"

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def origin() -> Iterator[Origin]:
    server = Origin()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def send(transport: KeepAliveTransport, method: str, url: str) -> httpx.Response:
    request = httpx.Request(method, url, content=b"{}" if method == "POST" else None)
    response = transport.handle_request(request)
    response.read()
    return response


def test_requests_reuse_one_connection_and_bodies_are_decoded(origin: Origin) -> None:
    transport = KeepAliveTransport()
    for _ in range(3):
        assert send(transport, "GET", f"{origin.url}/a").json() == {"ok": True}
    assert origin.connections == 1


def test_a_connection_the_server_closed_while_idle_is_replaced(origin: Origin) -> None:
    transport = KeepAliveTransport()
    origin.mode = "close-after"
    for sent in range(1, 4):
        assert send(transport, "POST", f"{origin.url}/new_order").status_code == 200
        # The server has closed the connection before the next request (as after its
        # keep-alive timeout), so the pool must notice rather than send a POST into it.
        wait_for(lambda sent=sent: origin.closed == sent, timeout=5)
    assert origin.requests == ["POST /new_order"] * 3
    assert origin.connections == 3


@pytest.mark.parametrize(
    ("method", "sends"),
    [("GET", 2), ("POST", 1)],  # a POST may have reached the matcher: never repeated
)
def test_a_request_lost_on_a_reused_connection_is_resent_only_if_that_repeats_nothing(
    origin: Origin, method: str, sends: int
) -> None:
    transport = KeepAliveTransport()
    send(transport, "GET", f"{origin.url}/warm")
    origin.mode = "drop"
    with pytest.raises(httpx.TransportError):
        send(transport, method, f"{origin.url}/endpoint")
    # A GET goes once on the kept connection and once on a new one: never more.
    assert origin.requests == ["GET /warm"] + [f"{method} /endpoint"] * sends


def test_a_closed_port_is_a_connect_error_the_client_words_plainly() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = StandXClient(endpoints=Endpoints(perps_url=f"http://127.0.0.1:{port}"), max_retries=0)
    with pytest.raises(errors.UnavailableError, match=r"ConnectError reaching 127\.0\.0\.1"):
        client.query_symbol_price(symbol="BTC-USD")


def test_requests_go_through_the_proxy_the_environment_names(
    origin: Origin, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = Origin()  # an HTTP proxy is asked for the absolute URL: the origin never sees it
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("http_proxy", proxy.url)
        assert send(KeepAliveTransport(), "GET", f"{origin.url}/a").json() == {"ok": True}
        assert proxy.requests == [f"GET {origin.url}/a"]
        assert origin.requests == []
        # A host in NO_PROXY is reached directly.
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        assert send(KeepAliveTransport(), "GET", f"{origin.url}/b").json() == {"ok": True}
        assert origin.requests == ["GET /b"]
        assert proxy.requests == [f"GET {origin.url}/a"]
    finally:
        proxy.shutdown()
        proxy.server_close()
