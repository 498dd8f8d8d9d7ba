"""Bearer tokens of the BFF's clients: HS256 JWTs for the audience `payments-bff` whose subject
names the client. Payments and idempotency keys belong to that subject."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

import jwt

from paykit.errors import PaymentsError

AUDIENCE = "payments-bff"
ALGORITHM = "HS256"
# Tolerated clock skew between the token's issuer and this process.
LEEWAY_SECONDS = 30
# A client sends the same token with each request until it expires. Its signature and claims are
# checked the first time only (about half a millisecond of CPU), its expiry every time; the
# tokens of clients long gone drop out of the bound.
VERIFIED_TOKENS_KEPT = 4096


class Unauthenticated(PaymentsError):
    code = "unauthorized"


def issue_token(secret: str, subject: str, ttl_seconds: int) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + timedelta(seconds=ttl_seconds),
    }
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(secret: str, token: str) -> str:
    """The token's subject, or `Unauthenticated` when it is not one this BFF issued and honours."""
    subject, expires_at = _verified(secret, token)
    # As PyJWT checks `exp`, for the uses of a token after its first.
    if time.time() >= expires_at + LEEWAY_SECONDS:
        raise Unauthenticated("The bearer token has expired")
    return subject


@functools.lru_cache(maxsize=VERIFIED_TOKENS_KEPT)
def _verified(secret: str, token: str) -> tuple[str, float]:
    """The subject and expiry of a token that passed every check; a refusal is not kept."""
    try:
        claims = jwt.decode(
            token,
            secret,
            # Pinned: a token must not choose its own algorithm ("none", or RS256 keyed by a
            # public key passed off as the HMAC secret).
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            leeway=LEEWAY_SECONDS,
            options={"require": ["sub", "aud", "exp"]},
        )
    except jwt.ExpiredSignatureError as e:
        raise Unauthenticated("The bearer token has expired") from e
    except jwt.InvalidTokenError as e:
        raise Unauthenticated("The bearer token is not valid for this API") from e
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise Unauthenticated("The bearer token names no client")
    return subject, float(claims["exp"])


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("This API needs an Authorization: Bearer <token> header")
    return token.strip()
