"""Single sign-on into the SaaS app: the port the handler needs, and the JWT issuer behind it.

The token is short-lived and carries a unique `jti`; the SaaS app accepts each `jti` once, which
makes the token single-use. This service signs it and records that it did.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlencode

import jwt

ISSUER = "order-consumer"
ALGORITHM = "HS256"
# Long enough to follow the redirect, short enough that a leaked token is soon worthless.
LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class SsoToken:
    token: str  # the signed JWT: a bearer credential, published once and never stored here
    jti: str
    order_id: str
    customer_id: str
    issued_at: datetime
    expires_at: datetime
    redirect_url: str


class SsoIssuer(Protocol):
    def issue(self, *, order_id: str, payment_id: str, customer_id: str) -> SsoToken: ...


class JwtSsoIssuer:
    def __init__(self, signing_key: str, audience: str, app_url: str) -> None:
        self._key = signing_key
        self._audience = audience
        self._callback = app_url.rstrip("/") + "/sso/callback"

    def issue(self, *, order_id: str, payment_id: str, customer_id: str) -> SsoToken:
        # Whole seconds: JWT times are integers, so the recorded expiry matches the claim exactly.
        issued_at = datetime.now(UTC).replace(microsecond=0)
        expires_at = issued_at + LIFETIME
        jti = str(uuid.uuid4())
        claims = {
            "iss": ISSUER,
            "sub": customer_id,
            "aud": self._audience,
            "iat": int(issued_at.timestamp()),
            "exp": int(expires_at.timestamp()),
            "jti": jti,
            "order_id": order_id,
            "payment_id": payment_id,
        }
        return SsoToken(
            token=jwt.encode(claims, self._key, algorithm=ALGORITHM),
            jti=jti,
            order_id=order_id,
            customer_id=customer_id,
            issued_at=issued_at,
            expires_at=expires_at,
            redirect_url=f"{self._callback}?{urlencode({'order_id': order_id})}",
        )
