"""The SSO token, decoded the way the SaaS app decodes it: with the public key of the JWKS that
order-consumer's health server publishes."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
import jwt
import pytest
from orders_random_events import PUBLIC_KEY, SIGNING_KEY

from orders.adapters.sso import JWKS_PATH, JwksApi, JwtSsoIssuer, SsoToken, signing_key
from paykit.health import HealthServer

if TYPE_CHECKING:
    from collections.abc import Iterator

KEY = signing_key(SIGNING_KEY)
issuer = JwtSsoIssuer(KEY, "saas-app", "https://saas.example/app/")


def issue(order_id: str = "ord_1") -> SsoToken:
    return issuer.issue(order_id=order_id, payment_id="pay_1", customer_id="cus_1")


def decode(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        token, PUBLIC_KEY, algorithms=["EdDSA"], audience="saas-app", issuer="order-consumer"
    )
    return claims


def test_the_token_names_the_customer_for_the_saas_app_and_lives_five_minutes() -> None:
    token = issue()
    claims = decode(token.token)
    assert jwt.get_unverified_header(token.token)["alg"] == "EdDSA"
    assert claims["sub"] == "cus_1"
    assert claims["aud"] == "saas-app"
    assert claims["iss"] == "order-consumer"
    assert (claims["order_id"], claims["payment_id"]) == ("ord_1", "pay_1")
    exp, iat = claims["exp"], claims["iat"]
    assert isinstance(exp, int)
    assert isinstance(iat, int)
    assert exp - iat == 300


def test_what_is_recorded_matches_what_was_signed() -> None:
    token = issue()
    claims = decode(token.token)
    assert claims["jti"] == token.jti
    assert int(token.issued_at.timestamp()) == claims["iat"]
    assert int(token.expires_at.timestamp()) == claims["exp"]
    assert (token.order_id, token.customer_id) == ("ord_1", "cus_1")


def test_every_token_has_its_own_jti() -> None:
    first, second = issue(), issue()
    assert decode(first.token)["jti"] != decode(second.token)["jti"]


def test_a_token_is_refused_under_another_key_or_for_another_audience() -> None:
    token = issue().token
    other = signing_key(None).public_key()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other, algorithms=["EdDSA"], audience="saas-app")
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, PUBLIC_KEY, algorithms=["EdDSA"], audience="another-app")


def test_the_redirect_goes_to_the_saas_apps_sso_callback_for_the_order() -> None:
    assert issue("ord_42").redirect_url == "https://saas.example/app/sso/callback?order_id=ord_42"


@pytest.fixture
def health_server() -> Iterator[str]:
    server = HealthServer("127.0.0.1", 0, {}, routes={JWKS_PATH: JwksApi(KEY)})
    server.start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


def test_the_health_server_publishes_the_public_key_the_tokens_verify_with(
    health_server: str,
) -> None:
    published = httpx.get(health_server + JWKS_PATH, timeout=5)

    assert published.status_code == 200
    assert "max-age" in published.headers["Cache-Control"]
    (jwk,) = published.json()["keys"]
    assert (jwk["kty"], jwk["crv"], jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert "d" not in jwk  # the private part never leaves the service
    token = issue().token
    assert jwt.get_unverified_header(token)["kid"] == jwk["kid"]
    public = jwt.PyJWK.from_json(json.dumps(jwk))
    claims = jwt.decode(token, public, algorithms=["EdDSA"], audience="saas-app")
    assert claims["sub"] == "cus_1"
