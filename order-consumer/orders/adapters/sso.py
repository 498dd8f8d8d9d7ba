"""Single sign-on into the SaaS app: the port the handler needs, the JWT issuer behind it, and
the public key set the SaaS app verifies its tokens with.

Tokens are signed with Ed25519 (EdDSA): the SaaS app holds only the public key, which this
service publishes as a JWKS at `/.well-known/jwks.json`, so nothing the SaaS app keeps can mint
a token. The token is short-lived and carries a unique `jti`; the SaaS app accepts each `jti`
once, which makes the token single-use. This service signs it and records that it did.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from orders.domain.model import SsoToken

if TYPE_CHECKING:
    from collections.abc import Iterable
    from wsgiref.types import StartResponse, WSGIEnvironment

ISSUER = "order-consumer"
ALGORITHM = "EdDSA"
# Long enough to follow the redirect, short enough that a leaked token is soon worthless.
LIFETIME = timedelta(minutes=5)
JWKS_PATH = "/.well-known/jwks.json"


class SsoIssuer(Protocol):
    def issue(self, *, order_id: str, payment_id: str, customer_id: str) -> SsoToken: ...


def signing_key(pem: str | None) -> Ed25519PrivateKey:
    """The Ed25519 private key of `SSO_SIGNING_KEY` (PEM, PKCS#8: `openssl genpkey -algorithm
    ed25519`); a new one when None, for a development process on its own."""
    if pem is None:
        return Ed25519PrivateKey.generate()
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as e:
        raise ValueError(
            "SSO_SIGNING_KEY must be an unencrypted Ed25519 private key in PEM "
            "(openssl genpkey -algorithm ed25519)"
        ) from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"SSO_SIGNING_KEY is a {type(key).__name__}, not an Ed25519 key")
    return key


def public_jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    """The public half as a JWK, its `kid` the RFC 7638 thumbprint (so it names this key and no
    other, across restarts and instances)."""
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = _b64url(raw)
    # RFC 8037: the thumbprint's members are crv, kty and x, sorted, with no whitespace.
    thumbprint = hashlib.sha256(
        json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":")).encode()
    ).digest()
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": x,
        "kid": _b64url(thumbprint),
        "alg": ALGORITHM,
        "use": "sig",
    }


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class JwtSsoIssuer:
    def __init__(self, key: Ed25519PrivateKey, audience: str, app_url: str) -> None:
        self._key = key
        self._kid = public_jwk(key)["kid"]
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
            token=jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid}),
            jti=jti,
            order_id=order_id,
            customer_id=customer_id,
            issued_at=issued_at,
            expires_at=expires_at,
            redirect_url=f"{self._callback}?{urlencode({'order_id': order_id})}",
        )


class JwksApi:
    """`GET /.well-known/jwks.json` on the health server: the key set the SaaS app fetches."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._body = json.dumps({"keys": [public_jwk(key)]}).encode()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != JWKS_PATH or environ.get("REQUEST_METHOD") != "GET":
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"code": "not_found", "message": "only GET /.well-known/jwks.json"}']
        headers: list[tuple[str, Any]] = [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(self._body))),
            # Verifiers may keep it a while; a new key is announced by a `kid` they do not know.
            ("Cache-Control", "public, max-age=300"),
        ]
        start_response("200 OK", headers)
        return [self._body]
