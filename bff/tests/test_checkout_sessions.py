"""Checkout sessions: a backend prepares the payment with its client token, and the shopper's
browser, holding only the key of the checkout URL, sees that one session and pays it once."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
import pytest
from bff_events import declined, order_failed
from bff_support import (
    bearer,
    deliver,
    new_key,
    new_session,
    open_session,
    outbox_rows,
    row_counts,
    shopper,
)
from fastapi.testclient import TestClient

from bff.domain.checkout import MAX_ATTEMPTS
from bff.main import create_app
from payment_events.events import PaymentInitiated

if TYPE_CHECKING:
    from collections.abc import Iterator

    from bff.projector.bootstrap import Projector
    from bff.settings import Settings

pytestmark = pytest.mark.integration


def pay(
    app: TestClient, session_id: str, key: str, method: str = "pm_card_visa", idem: str = ""
) -> Any:
    return app.post(
        f"/v1/checkout/{session_id}/payments",
        json={"payment_method": method},
        headers=shopper(key, **{"Idempotency-Key": idem or uuid.uuid4().hex}),
    )


@pytest.fixture
def shop(settings: Settings, client_id: str) -> Iterator[TestClient]:
    """The backend, with its client token; `app` (no token) is the shopper's browser."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers.update(bearer(client_id))
        yield client


def test_a_backend_opens_a_session_and_gets_a_checkout_url_with_the_key_in_its_fragment(
    app: TestClient, client_id: str, settings: Settings
) -> None:
    created = app.post("/v1/checkout-sessions", json=new_session(), headers=bearer(client_id))

    assert created.status_code == 201
    body = created.json()
    url = urlsplit(body["checkout_url"])
    assert f"{url.scheme}://{url.netloc}" == settings.checkout_base_url
    assert len(url.fragment) >= 43  # 256 random bits
    assert created.headers["Location"] == body["status_url"]
    seen = app.get(body["status_url"], headers=bearer(client_id)).json()
    assert seen["amount_minor"] == 1250
    assert seen["payment_id"] is None
    # Only its digest is stored: the database's copy opens nothing.
    with psycopg.connect(settings.database_url) as conn:
        (digest,) = conn.execute("SELECT key_digest FROM checkout_sessions").fetchone() or ("",)
    assert url.fragment not in digest


def test_another_client_cannot_see_a_session(app: TestClient, client_id: str) -> None:
    created = app.post("/v1/checkout-sessions", json=new_session(), headers=bearer(client_id))

    other = app.get(created.json()["status_url"], headers=bearer("client_other"))

    assert other.status_code == 404
    assert other.json()["code"] == "checkout_session_not_found"


def test_a_session_needs_a_client_token(app: TestClient) -> None:
    assert app.post("/v1/checkout-sessions", json=new_session()).status_code == 401


def test_the_key_shows_the_session_without_a_client_token(
    app: TestClient, shop: TestClient
) -> None:
    session_id, key, _ = open_session(shop)

    view = app.get(f"/v1/checkout/{session_id}", headers=shopper(key))

    assert view.status_code == 200
    assert view.headers["Cache-Control"] == "no-store"
    body = view.json()
    assert (body["amount_minor"], body["currency"], body["can_pay"]) == (1250, "EUR", True)
    assert [x["seller_id"] for x in body["lines"]] == ["seller_a", "seller_b"]
    assert body["payment"] is None
    assert "customer_id" not in body


@pytest.mark.parametrize("wrong", ["tampered", "missing", "unknown session", "not a uuid"])
def test_a_wrong_key_or_session_is_answered_alike_and_opens_nothing(
    app: TestClient, shop: TestClient, wrong: str
) -> None:
    session_id, key, _ = open_session(shop)
    headers = shopper(key[:-1] + ("A" if key[-1] != "A" else "B"))
    if wrong == "missing":
        headers = {}
    if wrong == "unknown session":
        session_id = str(uuid.uuid4())
    if wrong == "not a uuid":
        session_id = "cs_nope"

    view = app.get(f"/v1/checkout/{session_id}", headers=headers)
    paid = app.post(
        f"/v1/checkout/{session_id}/payments",
        json={"payment_method": "pm_card_visa"},
        headers={**headers, **new_key()},
    )

    for answer in (view, paid):
        assert answer.status_code == 404
        assert answer.json() == {
            "code": "checkout_session_not_found",
            "message": "This checkout link is not valid",
        }


def test_paying_makes_a_payment_of_the_sessions_customer_and_amounts(
    app: TestClient, shop: TestClient, settings: Settings
) -> None:
    session_id, key, made = open_session(shop)

    paid = pay(app, session_id, key)

    assert paid.status_code == 202
    assert paid.headers["Retry-After"] == "1"
    assert paid.json()["status_url"] == f"/v1/checkout/{session_id}"
    payment_id = paid.json()["payment_id"]
    ((_, key_of_event, event, _),) = outbox_rows(settings.database_url)
    assert isinstance(event, PaymentInitiated)
    assert key_of_event == payment_id
    assert event.customer_id == made["customer_id"]
    assert [(x.seller_id, x.amount_minor) for x in event.lines] == [
        ("seller_a", 1000),
        ("seller_b", 250),
    ]
    view = app.get(f"/v1/checkout/{session_id}", headers=shopper(key))
    assert view.json()["payment"]["payment_id"] == payment_id
    assert view.json()["payment"]["status"] == "PROCESSING"
    assert view.headers["Retry-After"] == "1"
    # The backend follows the same payment with its token.
    assert shop.get(f"/v1/payments/{payment_id}").status_code == 200


@pytest.mark.parametrize(
    "field", [{"customer_id": "cus_victim"}, {"amount_minor": 1}, {"currency": "USD"}]
)
def test_the_browser_cannot_change_who_pays_nor_how_much(
    app: TestClient, shop: TestClient, settings: Settings, field: dict[str, Any]
) -> None:
    session_id, key, _ = open_session(shop)
    before = row_counts(settings.database_url)

    paid = app.post(
        f"/v1/checkout/{session_id}/payments",
        json={"payment_method": "pm_card_visa", **field},
        headers=shopper(key, **new_key()),
    )

    assert paid.status_code == 422
    assert paid.json()["errors"][0]["code"] == "unknown_field"
    assert row_counts(settings.database_url) == before


def test_a_double_click_replays_the_first_payment(app: TestClient, shop: TestClient) -> None:
    session_id, key, _ = open_session(shop)
    idem = uuid.uuid4().hex

    first = pay(app, session_id, key, idem=idem)
    second = pay(app, session_id, key, idem=idem)

    assert second.status_code == 202
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["payment_id"] == first.json()["payment_id"]


def test_a_second_payment_is_refused_while_the_first_stands(
    app: TestClient, shop: TestClient, settings: Settings
) -> None:
    session_id, key, _ = open_session(shop)
    pay(app, session_id, key)

    second = pay(app, session_id, key)

    assert second.status_code == 409
    assert second.json()["code"] == "checkout_session_paid"
    assert row_counts(settings.database_url)["payments"] == 1


def test_after_a_decline_the_shopper_may_try_another_card(
    app: TestClient, shop: TestClient, projector: Projector
) -> None:
    session_id, key, _ = open_session(shop)
    first = pay(app, session_id, key, "pm_card_declined").json()["payment_id"]
    assert deliver(projector, declined(first))
    view = app.get(f"/v1/checkout/{session_id}", headers=shopper(key)).json()
    assert (view["payment"]["status"], view["can_pay"], view["attempts"]) == ("DECLINED", True, 1)

    second = pay(app, session_id, key)

    assert second.status_code == 202
    assert second.json()["payment_id"] != first
    assert shop.get(f"/v1/checkout-sessions/{session_id}").json()["attempts"] == 2


def test_a_refused_order_ends_the_session(
    app: TestClient, shop: TestClient, projector: Projector
) -> None:
    session_id, key, _ = open_session(shop)
    first = pay(app, session_id, key).json()["payment_id"]
    assert deliver(projector, order_failed(first))

    view = app.get(f"/v1/checkout/{session_id}", headers=shopper(key)).json()
    again = pay(app, session_id, key)

    assert view["payment"]["status"] == "FAILED"
    assert view["can_pay"] is False
    assert again.status_code == 409


def test_declines_are_tried_a_bounded_number_of_times(
    app: TestClient, shop: TestClient, projector: Projector
) -> None:
    session_id, key, _ = open_session(shop)
    for _ in range(MAX_ATTEMPTS):
        payment_id = pay(app, session_id, key, "pm_card_declined").json()["payment_id"]
        assert deliver(projector, declined(payment_id))

    refused = pay(app, session_id, key)

    assert refused.status_code == 409
    assert refused.json()["code"] == "checkout_attempts_exhausted"


def test_an_expired_session_charges_nothing(
    app: TestClient, shop: TestClient, settings: Settings
) -> None:
    session_id, key, _ = open_session(shop)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute(
            "UPDATE checkout_sessions SET expires_at = now() - interval '1 second' "
            "WHERE session_id = %s",
            (session_id,),
        )
    before = row_counts(settings.database_url)

    paid = pay(app, session_id, key)
    view = app.get(f"/v1/checkout/{session_id}", headers=shopper(key)).json()

    assert paid.status_code == 410
    assert paid.json()["code"] == "checkout_session_expired"
    assert (view["expired"], view["can_pay"]) == (True, False)
    assert row_counts(settings.database_url) == before


def test_a_shoppers_invalid_request_is_answered_without_a_client_token(
    app: TestClient, shop: TestClient
) -> None:
    session_id, key, _ = open_session(shop)

    paid = app.post(
        f"/v1/checkout/{session_id}/payments",
        json={"payment_method": "4242 4242 4242 4242"},
        headers=shopper(key, **new_key()),
    )

    assert paid.status_code == 422
    assert paid.json()["errors"][0]["code"] == "card_number_not_allowed"


def test_the_page_is_served_with_a_strict_policy(app: TestClient, settings: Settings) -> None:
    page = app.get(f"/checkout/{uuid.uuid4()}")
    script = app.get("/checkout/assets/checkout.js")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert f"form-action {settings.saas_app_url}" in policy
    assert 'aria-live="polite"' in page.text
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert app.get("/checkout/assets/page.html").status_code == 404
    assert app.get("/checkout/assets/nothing.js").status_code == 404
