"""Authorizations: the test payment methods answer as Stripe's do."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import PspApi

pytestmark = pytest.mark.integration


def test_a_good_card_is_authorized(psp: PspApi) -> None:
    response = psp.authorize(amount_minor=2500, currency="EUR", reference="pay_1")

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("auth_")
    assert body == {
        "id": body["id"],
        "status": "authorized",
        "amount_minor": 2500,
        "currency": "EUR",
        "reference": "pay_1",
        "decline_code": None,
        "decline_reason": None,
    }
    assert "Idempotent-Replayed" not in response.headers


@pytest.mark.parametrize(
    ("payment_method", "code", "reason"),
    [
        ("pm_card_declined", "card_declined", "Your card was declined."),
        ("pm_card_insufficient_funds", "insufficient_funds", "Your card has insufficient funds."),
    ],
)
def test_a_declined_card_answers_with_its_code_and_reason(
    psp: PspApi, payment_method: str, code: str, reason: str
) -> None:
    response = psp.authorize(payment_method=payment_method)

    assert response.status_code == 201
    assert response.json()["status"] == "declined"
    assert response.json()["decline_code"] == code
    assert response.json()["decline_reason"] == reason
    [row] = psp.operations(reference=response.json()["reference"])
    assert (row["kind"], row["status"], row["decline_code"]) == ("authorization", "declined", code)


def test_an_unknown_payment_method_is_refused_and_leaves_no_operation(psp: PspApi) -> None:
    response = psp.authorize(payment_method="pm_card_unknown", reference="pay_unknown_pm")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_payment_method"
    assert response.json()["message"]
    assert psp.operations(reference="pay_unknown_pm") == []


def test_a_request_without_an_idempotency_key_is_refused(psp: PspApi) -> None:
    body = {"amount_minor": 1, "currency": "EUR", "payment_method": "pm_card_visa"}
    response = psp.http.post("/v1/authorizations", json=body | {"reference": "r"})

    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_missing"


@pytest.mark.parametrize(
    "bad",
    [{"amount_minor": 0}, {"amount_minor": -5}, {"currency": "EURO"}, {"unexpected": "field"}],
)
def test_invalid_parameters_are_refused_with_the_error_shape(
    psp: PspApi, bad: dict[str, object]
) -> None:
    response = psp.authorize(**bad)

    assert response.status_code == 400
    assert set(response.json()) == {"code", "message"}
    assert response.json()["code"] == "invalid_request"
