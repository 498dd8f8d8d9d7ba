"""POST /v1/payments against a real Postgres: one transaction holds the payment, its key and
PaymentInitiated; the same key replays; another body under it is refused."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import psycopg
import pytest
from bff_support import bearer, new_key, new_payment, outbox_rows, row_counts

from payment_events.events import PaymentInitiated

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def test_a_payment_is_accepted_at_once_with_its_status_url(
    api: TestClient, bff_database: str
) -> None:
    body = new_payment()
    response = api.post("/v1/payments", json=body, headers=new_key())

    assert response.status_code == 202
    accepted = response.json()
    payment_id = accepted["payment_id"]
    assert uuid.UUID(payment_id)
    assert accepted == {
        "payment_id": payment_id,
        "status": "PROCESSING",
        "status_url": f"/v1/payments/{payment_id}",
    }
    assert response.headers["Location"] == accepted["status_url"]
    assert response.headers["Retry-After"] == "1"
    assert "Idempotent-Replayed" not in response.headers

    [(topic, key, event, headers)] = outbox_rows(bff_database)
    assert (topic, key) == ("payment-initiated", payment_id)
    assert isinstance(event, PaymentInitiated)
    assert event.payment_id == payment_id
    assert (event.customer_id, event.currency, event.payment_method) == (
        body["customer_id"],
        "EUR",
        "pm_card_visa",
    )
    assert [(x.line_no, x.seller_id, x.amount_minor) for x in event.lines] == [
        (0, body["lines"][0]["seller_id"], 1000),
        (1, body["lines"][1]["seller_id"], 250),
    ]
    assert event.amount_minor == 1250
    assert event.return_url == "https://shop.example/thanks"
    assert headers["correlation_id"] == payment_id
    assert headers["event_type"] == "PaymentInitiated"


def test_the_correlation_id_header_travels_with_the_event(
    api: TestClient, bff_database: str
) -> None:
    correlation_id = f"checkout-{uuid.uuid4().hex}"
    headers = new_key() | {"X-Correlation-Id": correlation_id}
    assert api.post("/v1/payments", json=new_payment(), headers=headers).status_code == 202

    [(_, _, _, kafka_headers)] = outbox_rows(bff_database)
    assert kafka_headers["correlation_id"] == correlation_id


def test_the_status_is_processing_right_after_acceptance(api: TestClient) -> None:
    body = new_payment(return_url=None)
    payment_id = api.post("/v1/payments", json=body, headers=new_key()).json()["payment_id"]

    response = api.get(f"/v1/payments/{payment_id}")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    status = response.json()
    assert status["status"] == "PROCESSING"
    assert [(h["status"], h["event"]) for h in status["history"]] == [
        ("PROCESSING", "PaymentInitiated")
    ]
    assert (status["currency"], status["amount_minor"]) == ("EUR", 1250)
    assert (status["authorized_minor"], status["captured_minor"]) == (0, 0)
    assert [line["line_no"] for line in status["lines"]] == [0, 1]
    assert status["order_id"] is status["sso_token"] is status["redirect_url"] is None
    assert status["failure_code"] is status["failure_reason"] is None
    assert status["created_at"] == status["updated_at"]


def test_the_same_key_and_body_replay_the_first_answer(api: TestClient, bff_database: str) -> None:
    body, key = new_payment(), new_key()
    first = api.post("/v1/payments", json=body, headers=key)
    # The same request, its fields in another order: still the same request.
    again = api.post("/v1/payments", json=dict(reversed(body.items())), headers=key)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Location"] == first.headers["Location"]
    assert row_counts(bff_database) == {
        "payments": 1,
        "payment_history": 1,
        "refunds": 0,
        "idempotency_keys": 1,
        "checkout_sessions": 0,
        "outbox": 1,
    }


def test_the_same_key_with_another_body_is_refused_and_writes_nothing(
    api: TestClient, bff_database: str
) -> None:
    key = new_key()
    api.post("/v1/payments", json=new_payment(), headers=key)
    before = row_counts(bff_database)

    other = api.post("/v1/payments", json=new_payment(), headers=key)

    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    assert other.json()["message"]
    assert row_counts(bff_database) == before


def test_keys_belong_to_their_client(app: TestClient, bff_database: str) -> None:
    key, body = new_key(), new_payment()
    answers = [
        app.post(
            "/v1/payments",
            json=body,
            headers=key | bearer(client),
        )
        for client in ("shop-a", "shop-b")
    ]

    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json()["payment_id"] != answers[1].json()["payment_id"]
    assert row_counts(bff_database)["payments"] == 2


def test_concurrent_twins_with_one_key_make_one_payment(api: TestClient, bff_database: str) -> None:
    body, key = new_payment(), new_key()
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda _: api.post("/v1/payments", json=body, headers=key), range(8))
        )

    assert {a.status_code for a in answers} == {202}
    assert len({a.json()["payment_id"] for a in answers}) == 1
    assert sum("Idempotent-Replayed" in a.headers for a in answers) == 7
    assert row_counts(bff_database) == {
        "payments": 1,
        "payment_history": 1,
        "refunds": 0,
        "idempotency_keys": 1,
        "checkout_sessions": 0,
        "outbox": 1,
    }


def test_an_empty_correlation_id_counts_as_absent(api: TestClient, bff_database: str) -> None:
    headers = new_key() | {"X-Correlation-Id": ""}
    payment_id = api.post("/v1/payments", json=new_payment(), headers=headers).json()["payment_id"]

    [(_, _, _, kafka_headers)] = outbox_rows(bff_database)
    assert kafka_headers["correlation_id"] == payment_id


def test_only_a_recorded_payment_wakes_the_relay(api: TestClient, bff_database: str) -> None:
    # The relay is woken by a notice at the commit of an outbox insert. A replay writes nothing,
    # and must not wake it either: the statement that found the key taken leaves no notice.
    with psycopg.connect(bff_database, autocommit=True) as listener:
        listener.execute("LISTEN outbox")
        body, key = new_payment(), new_key()
        assert api.post("/v1/payments", json=body, headers=key).status_code == 202
        assert len(list(listener.notifies(timeout=2, stop_after=1))) == 1

        again = api.post("/v1/payments", json=body, headers=key)
        other = api.post("/v1/payments", json=new_payment(), headers=key)

        assert (again.status_code, other.status_code) == (202, 422)
        assert list(listener.notifies(timeout=0.5)) == []
