"""order-consumer's settings: safe defaults outside production, none inside it."""

from __future__ import annotations

import pytest
from orders_random_events import SIGNING_KEY
from pydantic import ValidationError

from orders.settings import Settings


def test_production_needs_a_signing_key() -> None:
    with pytest.raises(ValidationError, match="SSO_SIGNING_KEY"):
        Settings(PAYMENTS_ENV="production")
    real = Settings(PAYMENTS_ENV="production", SSO_SIGNING_KEY=SIGNING_KEY)
    assert real.sso_signing_key == SIGNING_KEY


@pytest.mark.parametrize(
    "key",
    [
        "dev-only-secret-change-me-0123456789abcdef",  # the shared secret of old
        "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
    ],
)
def test_a_key_that_is_not_an_ed25519_pem_is_refused_without_echoing_it(key: str) -> None:
    with pytest.raises(ValidationError, match="Ed25519") as refused:
        Settings(SSO_SIGNING_KEY=key)
    assert key not in str(refused.value)


def test_an_rsa_key_is_refused() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        .decode()
    )
    with pytest.raises(ValidationError, match="not an Ed25519 key"):
        Settings(SSO_SIGNING_KEY=pem)


def test_blocked_customers_are_a_comma_separated_list() -> None:
    settings = Settings(ORDERS_BLOCKED_CUSTOMERS=" cus_a, cus_b,,")
    assert settings.blocked_customer_ids == {"cus_a", "cus_b"}
    assert Settings(ORDERS_BLOCKED_CUSTOMERS="cus_blocked").blocked_customer_ids == {"cus_blocked"}
