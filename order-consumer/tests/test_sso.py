"""The SSO token, decoded the way the SaaS app decodes it."""

from __future__ import annotations

import jwt
import pytest

from orders.adapters.sso import JwtSsoIssuer, SsoToken

KEY = "test-signing-key-that-is-long-enough-for-hs256"
issuer = JwtSsoIssuer(KEY, "saas-app", "https://saas.example/app/")


def issue(order_id: str = "ord_1") -> SsoToken:
    return issuer.issue(order_id=order_id, payment_id="pay_1", customer_id="cus_1")


def decode(token: str) -> dict[str, object]:
    claims: dict[str, object] = jwt.decode(
        token, KEY, algorithms=["HS256"], audience="saas-app", issuer="order-consumer"
    )
    return claims


def test_the_token_names_the_customer_for_the_saas_app_and_lives_five_minutes() -> None:
    token = issue()
    claims = decode(token.token)
    assert jwt.get_unverified_header(token.token)["alg"] == "HS256"
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
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, KEY + "x", algorithms=["HS256"], audience="saas-app")
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(token, KEY, algorithms=["HS256"], audience="another-app")


def test_the_redirect_goes_to_the_saas_apps_sso_callback_for_the_order() -> None:
    assert issue("ord_42").redirect_url == "https://saas.example/app/sso/callback?order_id=ord_42"
