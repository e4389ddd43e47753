"""A push-service stand-in: a small local HTTP server that checks what a real one would.

For each POST to ``/push/<id>`` it verifies the VAPID header (``vapid t=<jwt>, k=<key>``: an
ES256 JWT signed by ``k``, ``aud`` = this server's origin, ``exp`` within 24 h, a ``sub``), that
``k`` is the key the subscription was made with, and decrypts the ``aes128gcm`` body with the
subscription keys it generated (as a browser would have). Then it answers as told: 201 by
default, or a status (410, 429 with ``Retry-After``, 500) for the next pushes to one id.
Used by the push tests, the browser tests and ``bench/push_latency.py``.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Device:
    """The keys a browser keeps for one subscription."""

    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    server_key: str | None = None  # the applicationServerKey it subscribed with (base64url)

    @property
    def p256dh(self) -> str:
        return b64url(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
            )
        )


@dataclass
class Push:
    device: str
    at: float  # time.monotonic() when the request arrived
    payload: dict[str, Any]
    headers: dict[str, str]
    claims: dict[str, Any]
    key: str  # the VAPID public key ("k")


@dataclass
class PushService:
    origin: str
    devices: dict[str, Device] = field(default_factory=dict)
    received: list[Push] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # device id -> [(status, retry_after)], consumed one per push; empty: 201
    answers: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def subscription(self, device: str, server_key: str | None = None) -> dict[str, Any]:
        """A new device's subscription, as ``PushSubscription.toJSON()`` gives it."""
        keys = Device(ec.generate_private_key(ec.SECP256R1()), os.urandom(16), server_key)
        self.devices[device] = keys
        return {
            "endpoint": f"{self.origin}/push/{device}",
            "keys": {"p256dh": keys.p256dh, "auth": b64url(keys.auth)},
        }

    def answer(
        self, device: str, status: int, retry_after: str | None = None, times: int = 1
    ) -> None:
        with self.lock:
            self.answers.setdefault(device, []).extend([(status, retry_after)] * times)

    def pushes_to(self, device: str) -> list[Push]:
        with self.lock:
            return [p for p in self.received if p.device == device]

    def check(self, device: str, headers: dict[str, str], body: bytes) -> Push:
        keys = self.devices.get(device)
        if keys is None:
            raise ValueError(f"no such subscription {device}")
        scheme, _, params = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "vapid":
            raise ValueError("no VAPID authorization")
        parts = dict(p.strip().split("=", 1) for p in params.split(","))
        k = parts["k"]
        if keys.server_key is not None and k.rstrip("=") != keys.server_key.rstrip("="):
            raise ValueError("k is not the applicationServerKey the device subscribed with")
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(k))
        claims = jwt.decode(parts["t"], key=public, algorithms=["ES256"], audience=self.origin)
        if not 0 < claims["exp"] - time.time() <= 24 * 3600:
            raise ValueError("exp is not within 24 h")
        if not str(claims.get("sub", "")).startswith(("mailto:", "https://")):
            raise ValueError("no sub")
        if headers.get("content-encoding") != "aes128gcm":
            raise ValueError("not aes128gcm")
        plain = http_ece.decrypt(body, private_key=keys.private_key, auth_secret=keys.auth)
        return Push(device, time.monotonic(), json.loads(plain), headers, claims, k)


def _handler(service: PushService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            device = self.path.removeprefix("/push/")
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, retry_after = 201, None
            try:
                push = service.check(device, headers, body)
            except Exception as exc:  # a real push service refuses what it cannot verify
                with service.lock:
                    service.errors.append(f"{device}: {type(exc).__name__}: {exc}")
                status = 400
            else:
                with service.lock:
                    queued = service.answers.get(device)
                    if queued:
                        status, retry_after = queued.pop(0)
                    if status < 300:
                        service.received.append(push)
            self.send_response(status)
            if retry_after:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


class PushServer:
    """``with PushServer() as service:`` serves on a free local port for the block."""

    def __enter__(self) -> PushService:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(PushService("")))
        host, port = self.server.server_address[:2]
        service = PushService(f"http://{host!s}:{port}")
        self.server.RequestHandlerClass = _handler(service)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return service

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
