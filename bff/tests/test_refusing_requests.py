"""What the API refuses, and how: JSON with a code and a message, the field at fault, and
nothing written anywhere."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
from bff_support import SECRET, TABLES, bearer, new_key, new_payment, row_counts

from bff.auth import issue_token

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration

NOTHING = dict.fromkeys(TABLES, 0)
SELLER = {"seller_id": "seller_a", "amount_minor": 1000}


def amounts(*values: object) -> dict[str, Any]:
    return {"lines": [{"seller_id": "s", "amount_minor": v} for v in values]}


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"customer_id": ""}, "customer_id", "too_short"),
        ({"customer_id": None}, "customer_id", "invalid_type"),
        ({"currency": "EURO"}, "currency", "invalid_currency"),
        ({"currency": "ABC"}, "currency", "invalid_currency"),
        ({"payment_method": "4242424242424242"}, "payment_method", "card_number_not_allowed"),
        ({"payment_method": "4242 4242 4242 4242"}, "payment_method", "card_number_not_allowed"),
        ({"payment_method": "visa"}, "payment_method", "invalid_payment_method"),
        ({"lines": []}, "lines", "too_few_items"),
        ({"lines": [SELLER] * 101}, "lines", "too_many_items"),
        (amounts(1000, 0), "lines.1.amount_minor", "must_be_positive"),
        (amounts("5"), "lines.0.amount_minor", "invalid_type"),
        ({"lines": [{"amount_minor": 5}]}, "lines.0.seller_id", "required"),
        (amounts(2**63), "lines.0.amount_minor", "too_large"),
        (amounts(2**62, 2**62), "lines", "total_too_large"),
        ({"return_url": "javascript:alert(1)"}, "return_url", "invalid_url"),
        ({"tip": 5}, "tip", "unknown_field"),
    ],
)
def test_an_invalid_field_is_named_and_nothing_is_written(
    api: TestClient, bff_database: str, overrides: dict[str, Any], field: str, code: str
) -> None:
    response = api.post("/v1/payments", json=new_payment(**overrides), headers=new_key())

    assert response.status_code == 422
    answer = response.json()
    assert answer["code"] == "validation_failed"
    assert answer["message"]
    assert [(e["field"], e["code"]) for e in answer["errors"]] == [(field, code)]
    assert all(e["message"] for e in answer["errors"])
    assert row_counts(bff_database) == NOTHING


def test_a_card_number_is_not_echoed_back(api: TestClient) -> None:
    pan = "4000056655665556"
    response = api.post("/v1/payments", json=new_payment(payment_method=pan), headers=new_key())
    assert response.status_code == 422
    assert pan not in response.text


def test_every_invalid_field_is_named_at_once(api: TestClient, bff_database: str) -> None:
    body = new_payment(
        customer_id="", currency="XYZ", lines=[{"seller_id": "s", "amount_minor": -1}]
    )
    response = api.post("/v1/payments", json=body)

    fields = {(e["field"], e["code"]) for e in response.json()["errors"]}
    assert fields == {
        ("Idempotency-Key", "idempotency_key_required"),
        ("customer_id", "too_short"),
        ("currency", "invalid_currency"),
        ("lines.0.amount_minor", "must_be_positive"),
    }
    assert row_counts(bff_database) == NOTHING


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "idempotency_key_required"),
        ({"Idempotency-Key": ""}, "idempotency_key_required"),
        ({"Idempotency-Key": "k" * 256}, "idempotency_key_too_long"),
    ],
)
def test_a_payment_needs_a_usable_idempotency_key(
    api: TestClient, bff_database: str, headers: dict[str, str], code: str
) -> None:
    response = api.post("/v1/payments", json=new_payment(), headers=headers)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("Idempotency-Key", code)
    ]
    assert row_counts(bff_database) == NOTHING


@pytest.mark.parametrize(
    "raw", [b"{not json", b"[]", b'"a string"', b""], ids=["broken", "list", "string", "empty"]
)
def test_a_body_that_is_not_a_payment_object_is_refused(
    api: TestClient, bff_database: str, raw: bytes
) -> None:
    response = api.post(
        "/v1/payments",
        content=raw,
        headers=new_key() | {"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["code"] == "validation_failed"
    assert response.json()["errors"][0]["field"] == "body"
    assert row_counts(bff_database) == NOTHING


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer not-a-jwt",
        "Basic dXNlcjpwYXNz",
        f"Bearer {issue_token('another-secret-of-enough-length-0123456789', 'shop', 60)}",
        f"Bearer {issue_token(SECRET, 'shop', -120)}",
    ],
    ids=["missing", "garbage", "basic", "other-secret", "expired"],
)
@pytest.mark.parametrize("raw", [None, b"{broken"], ids=["valid-body", "broken-body"])
def test_without_a_valid_token_the_answer_is_401_and_nothing_is_written(
    app: TestClient, bff_database: str, authorization: str | None, raw: bytes | None
) -> None:
    headers = new_key() | ({"Authorization": authorization} if authorization else {})
    if raw is None:
        response = app.post("/v1/payments", json=new_payment(), headers=headers)
    else:
        headers["Content-Type"] = "application/json"
        response = app.post("/v1/payments", content=raw, headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response.json()["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert row_counts(bff_database) == NOTHING


def test_reading_a_status_needs_a_token_too(app: TestClient) -> None:
    response = app.get(f"/v1/payments/{uuid.uuid4()}")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


@pytest.mark.parametrize("payment_id", [str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1"])
def test_an_unknown_or_malformed_payment_id_is_404(api: TestClient, payment_id: str) -> None:
    response = api.get(f"/v1/payments/{payment_id}")

    assert response.status_code == 404
    assert response.json()["code"] == "payment_not_found"


def test_a_client_cannot_see_another_clients_payment(api: TestClient, app: TestClient) -> None:
    payment_id = api.post("/v1/payments", json=new_payment(), headers=new_key()).json()[
        "payment_id"
    ]
    response = app.get(f"/v1/payments/{payment_id}", headers=bearer("another-shop"))

    assert response.status_code == 404
    assert response.json()["code"] == "payment_not_found"


def test_unknown_routes_and_methods_answer_json(api: TestClient) -> None:
    missing = api.get("/v1/nothing-here")
    wrong_method = api.delete("/v1/payments")

    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["code"]) == (405, "method_not_allowed")
    assert wrong_method.json()["message"]


def test_a_correlation_id_longer_than_255_is_refused(api: TestClient, bff_database: str) -> None:
    headers = new_key() | {"X-Correlation-Id": "c" * 256}
    response = api.post("/v1/payments", json=new_payment(), headers=headers)

    assert response.status_code == 422
    assert [(e["field"], e["code"]) for e in response.json()["errors"]] == [
        ("X-Correlation-Id", "correlation_id_too_long")
    ]
    assert row_counts(bff_database) == NOTHING
