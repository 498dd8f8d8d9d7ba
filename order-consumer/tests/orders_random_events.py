"""Events with fresh ids, so tests never collide on a shared database or topic."""

from __future__ import annotations

import uuid

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from payment_events.events import PaymentSucceeded, SellerLine

# The tests' own SSO key: an Ed25519 key in PEM as SSO_SIGNING_KEY takes it, and its public half.
_KEY = Ed25519PrivateKey.generate()
SIGNING_KEY = _KEY.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_KEY = _KEY.public_key()


def payment_succeeded(customer_id: str = "cus_1") -> PaymentSucceeded:
    return PaymentSucceeded(
        payment_id=str(uuid.uuid4()),
        customer_id=customer_id,
        currency="EUR",
        amount_minor=1500,
        authorization_id=f"auth_{uuid.uuid4().hex[:12]}",
        lines=(
            SellerLine(line_no=0, seller_id="s1", amount_minor=1000),
            SellerLine(line_no=1, seller_id="s2", amount_minor=500),
        ),
        return_url="https://shop.example/return",
    )
