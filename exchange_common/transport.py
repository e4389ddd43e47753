"""A keep-alive HTTP/1.1 connection pool on the standard library's ``http.client``.

An ``httpx`` transport, so the venue clients (and ``httpx.MockTransport`` in tests) see the
same interface. It exists for CPU: a worker makes tens of REST reads a second,
and httpcore's state machine (h11) spends about twice what ``http.client`` does on each one.
It does only what the client needs: HTTP/1.1, TLS with certificate checks, per-request
timeouts, and connections kept open per origin and reused.

Reuse is careful about connections the server has closed meanwhile: an idle connection with
anything to read (the server's FIN) is dropped before use, and a request that fails on a reused
connection is sent again on a new one only when that cannot repeat an effect: a GET, or any
request that failed before its bytes were all written.

Proxies are honoured as curl and httpx honour them: ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
``ALL_PROXY`` (either case), except for hosts in ``NO_PROXY``, read when the pool is made. A
proxied origin goes through httpx's own pool (CONNECT for TLS); the direct path stays lean.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
import threading
import urllib.request
from collections import defaultdict

import certifi
import httpx

_Origin = tuple[str, str, int]
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})


class _Unsent(Exception):
    """The request's bytes were not all written: sending again cannot repeat its effect."""


class KeepAliveTransport(httpx.BaseTransport):
    """Thread-safe: a connection serves one request at a time, then goes back to the pool."""

    def __init__(self, *, max_idle_per_origin: int = 32) -> None:
        self._idle: defaultdict[_Origin, list[http.client.HTTPConnection]] = defaultdict(list)
        self._lock = threading.Lock()
        self._max_idle = max_idle_per_origin
        self._tls: ssl.SSLContext | None = None
        self._proxies = urllib.request.getproxies_environment()
        self._proxied: dict[str, httpx.HTTPTransport] = {}

    def _proxy_for(self, url: httpx.URL) -> str | None:
        """The proxy the environment names for ``url``, or None to connect directly."""
        # proxy_bypass applies the "no" entry (NO_PROXY) of the proxies read at construction.
        if not self._proxies or urllib.request.proxy_bypass(url.host, self._proxies):
            return None
        return self._proxies.get(url.scheme) or self._proxies.get("all")

    def _through_proxy(self, proxy: str, request: httpx.Request) -> httpx.Response:
        with self._lock:
            transport = self._proxied.get(proxy)
            if transport is None:
                transport = httpx.HTTPTransport(proxy=proxy, verify=self._tls_context())
                self._proxied[proxy] = transport
        response = transport.handle_request(request)
        try:  # the raw bytes: the client decodes them, as on the direct path
            content = b"".join(response.iter_raw())
        finally:
            response.close()
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=content,
            extensions={"http_version": response.extensions.get("http_version", b"HTTP/1.1")},
        )

    def _tls_context(self) -> ssl.SSLContext:
        # Loading the trust store costs ~30 ms: once per pool, and only if TLS is used.
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=certifi.where())
        return self._tls

    def _connect(self, origin: _Origin, timeout: float | None) -> http.client.HTTPConnection:
        scheme, host, port = origin
        conn: http.client.HTTPConnection
        if scheme == "https":
            conn = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._tls_context()
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from exc
        except OSError as exc:
            conn.close()
            raise httpx.ConnectError(f"connecting to {host}:{port}: {exc.strerror or exc}") from exc
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _checkout(self, origin: _Origin) -> http.client.HTTPConnection | None:
        while True:
            with self._lock:
                idle = self._idle.get(origin)
                if not idle:
                    return None
                conn = idle.pop()
            # Readable while idle means the server closed it (or broke protocol): drop it.
            if conn.sock is not None:
                poller = select.poll()
                poller.register(conn.sock, select.POLLIN)
                if not poller.poll(0):
                    return conn
            conn.close()

    def _checkin(self, origin: _Origin, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle[origin]
            if len(idle) < self._max_idle:
                idle.append(conn)
                return
        conn.close()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if (proxy := self._proxy_for(url)) is not None:
            return self._through_proxy(proxy, request)
        origin = (url.scheme, url.host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        body = request.read()
        retry_allowed = True
        while True:
            conn = self._checkout(origin)
            reused = conn is not None
            if conn is None:
                conn = self._connect(origin, timeouts.get("connect"))
            try:
                status, headers, content, keep = self._exchange(
                    conn, request, body, timeouts.get("read")
                )
            except _Unsent as unsent:
                conn.close()
                if reused and retry_allowed:
                    retry_allowed = False
                    continue
                raise _transport_error(unsent.__cause__, url.host) from None
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if reused and retry_allowed and request.method in _IDEMPOTENT:
                    retry_allowed = False
                    continue
                raise _transport_error(exc, url.host) from None
            if keep:
                self._checkin(origin, conn)
            else:
                conn.close()
            return httpx.Response(
                status,
                headers=headers,
                content=content,
                extensions={"http_version": b"HTTP/1.1"},
            )

    @staticmethod
    def _exchange(
        conn: http.client.HTTPConnection,
        request: httpx.Request,
        body: bytes,
        read_timeout: float | None,
    ) -> tuple[int, list[tuple[str, str]], bytes, bool]:
        conn.sock.settimeout(read_timeout)
        try:
            conn.putrequest(
                request.method,
                request.url.raw_path.decode("ascii"),
                skip_host=True,
                skip_accept_encoding=True,
            )
            # httpx.Request has set Host and Content-Length already.
            for name, value in request.headers.raw:
                conn.putheader(name.decode("latin-1"), value.decode("latin-1"))
            conn.endheaders(body or None)
        except (OSError, http.client.HTTPException) as exc:
            raise _Unsent from exc
        response = conn.getresponse()
        content = response.read()
        return response.status, response.getheaders(), content, not response.will_close

    def close(self) -> None:
        with self._lock:
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
            proxied = list(self._proxied.values())
            self._proxied.clear()
        for conn in idle:
            conn.close()
        for transport in proxied:
            transport.close()


def _transport_error(exc: BaseException | None, host: str) -> httpx.TransportError:
    if isinstance(exc, TimeoutError):
        return httpx.ReadTimeout(f"no answer from {host} in time")
    if isinstance(exc, http.client.HTTPException):
        return httpx.RemoteProtocolError(f"{host}: {type(exc).__name__}")
    return httpx.ReadError(f"{host}: {type(exc).__name__}")


_shared: tuple[int, KeepAliveTransport] | None = None
_shared_lock = threading.Lock()


def shared_transport() -> KeepAliveTransport:
    """The process's connection pool, used by every venue client not given its own transport.

    Its connections stay open between tasks, and it loads the TLS trust store (~30 ms of CPU,
    more than a whole account sync) once, so clients made per task or per request (workers,
    order views, charts) share it. It is thread-safe and never closed by clients. A forked
    child (Celery's prefork pool) builds its own rather than share its parent's sockets.
    """
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():
            _shared = (os.getpid(), KeepAliveTransport())
        return _shared[1]
