"""Full wallet sign-ins against the simulator's auth service."""

from __future__ import annotations

import base58
import nacl.signing
import pytest
from eth_account import Account

from standx import errors
from standx.auth import AuthClient, begin_login, complete_login, evm_sign, login_with_wallet_key
from standx.rest import Endpoints, StandXClient


@pytest.fixture
def auth(sim_url: str) -> AuthClient:
    return AuthClient(Endpoints.for_simulator(sim_url))


def test_a_full_evm_login_yields_a_working_token_and_signing_key(
    sim_url: str, auth: AuthClient
) -> None:
    wallet = Account.create()
    session = login_with_wallet_key(auth, chain="bsc", wallet_key=wallet.key.hex())
    assert session.address.lower() == wallet.address.lower()
    assert session.chain == "bsc"
    creds = session.credentials
    assert creds.can_sign
    assert creds.expires_at is not None
    with StandXClient(creds, endpoints=Endpoints.for_simulator(sim_url)) as client:
        # A wallet that never deposited: StandX answers 404, the client a zero balance.
        assert client.query_balance().funded is False
        # The login-time key signs: a signed call verifies.
        client.change_leverage(symbol="BTC-USD", leverage=4)


def test_a_full_solana_login_with_the_envelope(sim_url: str, auth: AuthClient) -> None:
    wallet = nacl.signing.SigningKey.generate()
    keypair = base58.b58encode(bytes(wallet) + bytes(wallet.verify_key)).decode()
    session = login_with_wallet_key(auth, chain="solana", wallet_key=keypair, expires_seconds=3600)
    assert session.address == base58.b58encode(bytes(wallet.verify_key)).decode()
    assert session.chain == "solana"
    with StandXClient(session.credentials, endpoints=Endpoints.for_simulator(sim_url)) as client:
        client.change_leverage(symbol="ETH-USD", leverage=3)


def test_the_split_flow_lets_a_browser_wallet_sign(auth: AuthClient) -> None:
    wallet = Account.create()
    pending = begin_login(auth, chain="bsc", address=wallet.address.lower())
    assert pending.message
    # The server keeps the pending login between the two requests (here: a state round trip).
    restored = type(pending).from_state(pending.to_state())
    signature = evm_sign(wallet.key.hex(), restored.message).removeprefix("0x")
    session = complete_login(auth, restored, signature)
    assert session.credentials.public_key == pending.request_id


def test_a_signature_from_another_wallet_is_refused_before_it_is_sent(auth: AuthClient) -> None:
    wallet, other = Account.create(), Account.create()
    pending = begin_login(auth, chain="bsc", address=wallet.address)
    with pytest.raises(errors.LoginError, match="another wallet"):
        complete_login(auth, pending, evm_sign(other.key.hex(), pending.message))
