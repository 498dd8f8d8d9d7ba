"""Verifying the SSO token order-consumer signed: its signature by a key of the published JWKS
(EdDSA only), who issued it, whom it is for, and that it has not expired. Whether it was used
before is the sign-ins table's business (`saas_demo.sign_ins`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import jwt

# The only algorithm accepted, whatever a token's header says: a token must not choose it
# ("none", or HS256 keyed by the public key passed off as a shared secret).
ALGORITHMS = ["EdDSA"]
# Tolerated clock skew between order-consumer's host and this one.
LEEWAY_SECONDS = 10
# The key set is fetched again after this long, or at once when a token names an unknown key.
JWKS_LIFESPAN_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5


class Refused(Exception):
    """A token that signs nobody in, with a stable code and a message for the shopper."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass(frozen=True)
class Claims:
    customer_id: str
    jti: str
    order_id: str | None
    payment_id: str | None
    expires_at: datetime


class TokenVerifier:
    def __init__(self, jwks_url: str, issuer: str, audience: str) -> None:
        self._keys = jwt.PyJWKClient(
            jwks_url, cache_keys=True, lifespan=JWKS_LIFESPAN_SECONDS, timeout=JWKS_TIMEOUT_SECONDS
        )
        self._issuer, self._audience = issuer, audience

    def verify(self, token: str) -> Claims:
        try:
            key = self._keys.get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as e:
            raise Refused(
                "sso_keys_unavailable",
                "Signing in is not possible right now (the keys to check it with cannot be "
                "fetched). Please try again in a moment.",
                503,
            ) from e
        except (jwt.PyJWKClientError, jwt.InvalidTokenError) as e:
            raise Refused("sso_token_invalid", "This sign-in link is not valid.") from e
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            )
        except jwt.ExpiredSignatureError as e:
            raise Refused(
                "sso_token_expired", "This sign-in link has expired: sign in from the app."
            ) from e
        except jwt.InvalidAudienceError as e:
            raise Refused(
                "sso_token_wrong_audience", "This sign-in link is for another app."
            ) from e
        except jwt.InvalidIssuerError as e:
            raise Refused(
                "sso_token_wrong_issuer", "This sign-in link was not issued by the shop."
            ) from e
        except jwt.InvalidTokenError as e:
            raise Refused("sso_token_invalid", "This sign-in link is not valid.") from e
        subject, jti = claims["sub"], claims["jti"]
        if not isinstance(subject, str) or not subject or not isinstance(jti, str) or not jti:
            raise Refused("sso_token_invalid", "This sign-in link is not valid.")
        return Claims(
            customer_id=subject,
            jti=jti,
            order_id=_text(claims.get("order_id")),
            payment_id=_text(claims.get("payment_id")),
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
