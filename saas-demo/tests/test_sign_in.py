"""Signing in with the SSO token: a valid token signs its customer in once; anything else signs
nobody in and says why."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from orders.adapters.sso import signing_key
from payctl.embedded import free_port
from saas_demo.app import create_app

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from httpx import Response

    from orders.adapters.sso import JwtSsoIssuer
    from saas_demo.settings import Settings

pytestmark = pytest.mark.integration


def sign_in(browser: TestClient, token: str) -> Response:
    return browser.post("/sso/callback?order_id=ord_1", data={"token": token})


def claims(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "iss": "order-consumer",
        "sub": "cus_1",
        "aud": "saas-app",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
        "jti": str(uuid.uuid4()),
    } | overrides


def signed(key: Ed25519PrivateKey, kid: str, **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="EdDSA", headers={"kid": kid})


def kid_of(issuer: JwtSsoIssuer) -> str:
    token = issuer.issue(order_id="o", payment_id="p", customer_id="c").token
    return str(jwt.get_unverified_header(token)["kid"])


def sign_ins(settings: Settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        (count,) = conn.execute("SELECT count(*) FROM sign_ins").fetchone() or (0,)
    return int(count)


def refusal_code(answer: Response) -> str:
    marker = 'data-code="'
    start = answer.text.index(marker) + len(marker)
    return answer.text[start : answer.text.index('"', start)]


def test_a_valid_token_signs_its_customer_in_and_redirects_to_the_app(
    browser: TestClient, issuer: JwtSsoIssuer, settings: Settings
) -> None:
    token = issuer.issue(order_id="ord_1", payment_id="pay_1", customer_id="cus_<42>")

    answer = sign_in(browser, token.token)

    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    home = browser.get("/")
    assert "<h1>Signed in as cus_&lt;42&gt;</h1>" in home.text
    assert home.headers["Cache-Control"] == "no-store"
    assert sign_ins(settings) == 1


def test_without_a_session_nobody_is_signed_in(browser: TestClient) -> None:
    assert "<h1>Not signed in</h1>" in browser.get("/").text


def test_a_token_signs_in_once_only(
    browser: TestClient, issuer: JwtSsoIssuer, settings: Settings
) -> None:
    token = issuer.issue(order_id="ord_1", payment_id="pay_1", customer_id="cus_1").token
    assert sign_in(browser, token).status_code == 303
    browser.cookies.clear()

    again = sign_in(browser, token)

    assert again.status_code == 401
    assert refusal_code(again) == "sso_token_used"
    assert "already been used" in again.text
    assert "set-cookie" not in again.headers
    assert "<h1>Not signed in</h1>" in browser.get("/").text
    assert sign_ins(settings) == 1


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("expired", "sso_token_expired"),
        ("another audience", "sso_token_wrong_audience"),
        ("another issuer", "sso_token_wrong_issuer"),
        ("no jti", "sso_token_invalid"),
        ("tampered claims", "sso_token_invalid"),
        ("another key", "sso_token_invalid"),
        ("alg none", "sso_token_invalid"),
        ("HS256 with the public key", "sso_token_invalid"),
        ("not a jwt", "sso_token_invalid"),
    ],
)
def test_a_token_that_does_not_verify_signs_nobody_in(
    browser: TestClient,
    issuer: JwtSsoIssuer,
    order_key: Ed25519PrivateKey,
    settings: Settings,
    case: str,
    code: str,
) -> None:
    kid = kid_of(issuer)
    token = {
        "expired": lambda: signed(order_key, kid, exp=int(datetime.now(UTC).timestamp()) - 60),
        "another audience": lambda: signed(order_key, kid, aud="another-app"),
        "another issuer": lambda: signed(order_key, kid, iss="someone-else"),
        "no jti": lambda: jwt.encode(
            {k: v for k, v in claims().items() if k != "jti"},
            order_key,
            algorithm="EdDSA",
            headers={"kid": kid},
        ),
        "tampered claims": lambda: _tampered(signed(order_key, kid)),
        # Signed by a key that is not order-consumer's, under order-consumer's key id.
        "another key": lambda: signed(signing_key(None), kid),
        "alg none": lambda: jwt.encode(claims(), None, algorithm="none", headers={"kid": kid}),
        "HS256 with the public key": lambda: _hs256_with_public_key(order_key, kid),
        "not a jwt": lambda: "not-a-token",
    }[case]()

    answer = sign_in(browser, token)

    assert answer.status_code == 401
    assert refusal_code(answer) == code
    assert "set-cookie" not in answer.headers
    assert sign_ins(settings) == 0


def _tampered(token: str) -> str:
    header, payload, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["sub"] = "cus_victim"
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def _hs256_with_public_key(key: Ed25519PrivateKey, kid: str) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    signing_input = f"{part(header)}.{part(claims())}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def test_a_token_in_the_url_is_not_read(browser: TestClient, issuer: JwtSsoIssuer) -> None:
    token = issuer.issue(order_id="ord_1", payment_id="pay_1", customer_id="cus_1").token

    by_url = browser.get(f"/sso/callback?token={token}")
    by_query_post = browser.post(f"/sso/callback?token={token}")

    assert by_url.status_code == 405
    assert refusal_code(by_url) == "sso_token_in_url"
    assert by_query_post.status_code == 400
    assert refusal_code(by_query_post) == "sso_token_missing"
    assert "<h1>Not signed in</h1>" in browser.get("/").text


def test_a_refusal_names_no_one_and_sets_no_cookie(browser: TestClient) -> None:
    answer = sign_in(browser, "not-a-token")

    assert "Nobody was signed in" in answer.text
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_sign_in_while_the_database_is_down_records_nothing_and_works_on_a_retry(
    browser: TestClient, issuer: JwtSsoIssuer, settings: Settings
) -> None:
    token = issuer.issue(order_id="ord_1", payment_id="pay_1", customer_id="cus_1").token
    down = settings.model_copy(
        update={"database_url": f"postgresql://saas@127.0.0.1:{free_port()}/saas"}
    )
    with TestClient(create_app(down), base_url=str(browser.base_url)) as unreachable:
        refused = sign_in(unreachable, token)

    assert refused.status_code == 503
    assert refusal_code(refused) == "database_unavailable"
    assert "set-cookie" not in refused.headers
    assert sign_in(browser, token).status_code == 303
    assert sign_ins(settings) == 1


def test_a_key_set_that_cannot_be_fetched_refuses_for_now_and_records_nothing(
    browser: TestClient, issuer: JwtSsoIssuer, settings: Settings
) -> None:
    token = issuer.issue(order_id="ord_1", payment_id="pay_1", customer_id="cus_1").token
    no_keys = settings.model_copy(
        update={"jwks_url": f"http://127.0.0.1:{free_port()}/.well-known/jwks.json"}
    )
    with TestClient(create_app(no_keys), base_url=str(browser.base_url)) as cut_off:
        refused = sign_in(cut_off, token)

    assert refused.status_code == 503
    assert refusal_code(refused) == "sso_keys_unavailable"
    assert sign_ins(settings) == 0
    assert sign_in(browser, token).status_code == 303
