"""Passkeys (WebAuthn) through py_webauthn: the options a browser needs for a ceremony, and the
checks of its answer. The challenge waits in the session and is used once.

The relying party is the host the page was served from (Django has already checked it against
``ALLOWED_HOSTS``), or ``WEBAUTHN_RP_ID`` when set. Browsers accept a host name or ``localhost``,
never a bare IP address.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import webauthn
from django.conf import settings
from django.http import HttpRequest
from webauthn.helpers import exceptions as webauthn_errors
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.models import User
from accounts.twofactor.models import Passkey

SESSION_KEY = "passkey_ceremony"
RP_NAME = "StandX Portfolio"


class PasskeyError(Exception):
    """The browser's answer did not prove a passkey; the message is safe to show."""


@dataclass(frozen=True)
class NewPasskey:
    credential_id: bytes
    public_key: bytes
    sign_count: int
    transports: list[str]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def relying_party(request: HttpRequest) -> tuple[str, str]:
    """(RP id, expected origin) for this request."""
    host = request.get_host()
    origin = f"{request.scheme}://{host}"
    rp_id = settings.WEBAUTHN_RP_ID or urlsplit(f"//{host}").hostname or host
    return rp_id, origin


def _user_handle(user: User) -> bytes:
    # Opaque to the authenticator and stable per user; never a username or an email address.
    return f"standx-portfolio-user-{user.pk}".encode()


def _remember(request: HttpRequest, purpose: str, challenge: bytes, user_id: int | None) -> None:
    request.session[SESSION_KEY] = {
        "purpose": purpose,
        "challenge": _b64(challenge),
        "user_id": user_id,
    }


def _take(request: HttpRequest, purpose: str) -> tuple[bytes, int | None]:
    state = request.session.pop(SESSION_KEY, None)
    if not isinstance(state, dict) or state.get("purpose") != purpose:
        raise PasskeyError("The passkey request expired or was already used; try again.")
    return _unb64(str(state["challenge"])), state.get("user_id")


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = []
    for name in passkey.transports:
        try:
            transports.append(AuthenticatorTransport(name))
        except ValueError:
            continue
    return PublicKeyCredentialDescriptor(id=bytes(passkey.credential_id), transports=transports)


def registration_options(request: HttpRequest, user: User) -> str:
    rp_id, _ = relying_party(request)
    options = webauthn.generate_registration_options(
        rp_id=rp_id,
        rp_name=RP_NAME,
        user_id=_user_handle(user),
        user_name=user.get_username(),
        user_display_name=user.get_username(),
        # A discoverable credential with user verification: it can sign in without a password.
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[_descriptor(p) for p in Passkey.objects.filter(user=user)],
    )
    _remember(request, "register", options.challenge, user.pk)
    return webauthn.options_to_json(options)


def registration_verify(request: HttpRequest, user: User, credential: Any) -> NewPasskey:
    challenge, user_id = _take(request, "register")
    if user_id != user.pk:
        raise PasskeyError("The passkey request belongs to another sign-in; try again.")
    rp_id, origin = relying_party(request)
    try:
        verified = webauthn.verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=True,
        )
    except webauthn_errors.WebAuthnException:
        raise PasskeyError(
            "The browser's answer did not verify; the passkey was not added."
        ) from None
    transports = (
        credential.get("response", {}).get("transports", []) if isinstance(credential, dict) else []
    )
    return NewPasskey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(t) for t in transports if isinstance(t, str)][:8],
    )


def authentication_options(request: HttpRequest, user: User | None) -> str:
    """Options to sign with a passkey: the user's own (second factor, step-up), or any
    discoverable one of this site (a sign-in without a password) when ``user`` is None."""
    rp_id, _ = relying_party(request)
    allowed = [_descriptor(p) for p in Passkey.objects.filter(user=user)] if user else []
    options = webauthn.generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=allowed,
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    _remember(request, "authenticate", options.challenge, user.pk if user else None)
    return webauthn.options_to_json(options)


def authentication_verify(request: HttpRequest, credential: Any) -> Passkey:
    """The passkey that signed this challenge (its owner is who signed in)."""
    challenge, user_id = _take(request, "authenticate")
    if not isinstance(credential, dict) or not isinstance(credential.get("rawId"), str):
        raise PasskeyError("The browser's answer was not a passkey signature.")
    try:
        raw_id = _unb64(credential["rawId"])
    except ValueError:
        raise PasskeyError("The browser's answer was not a passkey signature.") from None
    passkey = Passkey.objects.filter(credential_id=raw_id).select_related("user").first()
    if passkey is None or (user_id is not None and passkey.user_id != user_id):
        raise PasskeyError("This passkey is not registered for this account.")
    rp_id, origin = relying_party(request)
    try:
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=True,
        )
    except webauthn_errors.WebAuthnException:
        raise PasskeyError("The passkey's signature did not verify.") from None
    passkey.sign_count = verified.new_sign_count
    return passkey


def parse_body(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        raise PasskeyError("The browser's answer was not JSON.") from None
