"""Captures and voids: partial captures within the hold, and no void after money moved."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import PspApi

pytestmark = pytest.mark.integration


def test_partial_captures_add_up_to_the_authorized_amount(psp: PspApi) -> None:
    auth = psp.authorize(amount_minor=1000).json()

    first = psp.capture(auth["id"], 600, reference="po_1")
    second = psp.capture(auth["id"], 400, reference="po_2")
    over = psp.capture(auth["id"], 1, reference="po_3")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"].startswith("cap_")
    assert first.json() == {
        "id": first.json()["id"],
        "authorization_id": auth["id"],
        "amount_minor": 600,
        "reference": "po_1",
        "status": "succeeded",
    }
    assert over.status_code == 409
    assert over.json()["code"] == "amount_exceeds_authorization"
    captures = psp.operations(kind="capture", authorization_id=auth["id"])
    assert [c["amount_minor"] for c in captures] == [600, 400]


def test_one_capture_over_the_authorized_amount_is_refused(psp: PspApi) -> None:
    auth = psp.authorize(amount_minor=1000).json()

    response = psp.capture(auth["id"], 1001)

    assert response.status_code == 409
    assert response.json()["code"] == "amount_exceeds_authorization"
    assert psp.operations(kind="capture", authorization_id=auth["id"]) == []


def test_concurrent_captures_never_pass_the_authorized_amount(psp: PspApi) -> None:
    auth = psp.authorize(amount_minor=1000).json()

    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(lambda _: psp.capture(auth["id"], 300), range(5)))

    assert sorted(r.status_code for r in responses) == [201, 201, 201, 409, 409]
    captures = psp.operations(kind="capture", authorization_id=auth["id"])
    assert sum(c["amount_minor"] for c in captures) == 900


def test_a_voided_authorization_cannot_be_captured(psp: PspApi) -> None:
    auth = psp.authorize().json()

    voided = psp.void(auth["id"])
    capture = psp.capture(auth["id"], 100)

    assert voided.status_code == 201
    assert voided.json() == {
        "id": voided.json()["id"],
        "authorization_id": auth["id"],
        "status": "succeeded",
    }
    assert voided.json()["id"].startswith("void_")
    assert capture.status_code == 409
    assert capture.json()["code"] == "authorization_not_capturable"


def test_a_declined_authorization_cannot_be_captured(psp: PspApi) -> None:
    auth = psp.authorize(payment_method="pm_card_declined").json()

    response = psp.capture(auth["id"], 100)

    assert response.status_code == 409
    assert response.json()["code"] == "authorization_not_capturable"


def test_a_captured_authorization_cannot_be_voided(psp: PspApi) -> None:
    auth = psp.authorize(amount_minor=1000).json()
    psp.capture(auth["id"], 100)

    response = psp.void(auth["id"])

    assert response.status_code == 409
    assert response.json()["code"] == "authorization_not_voidable"
    assert psp.operations(kind="void", authorization_id=auth["id"]) == []


def test_an_authorization_is_voided_once(psp: PspApi) -> None:
    auth = psp.authorize().json()
    psp.void(auth["id"])

    response = psp.void(auth["id"])

    assert response.status_code == 409
    assert response.json()["code"] == "authorization_not_voidable"


def test_an_unknown_authorization_is_not_found(psp: PspApi) -> None:
    responses = [psp.capture("auth_missing", 100), psp.void("auth_missing")]

    assert [r.status_code for r in responses] == [404, 404]
    assert {r.json()["code"] for r in responses} == {"authorization_not_found"}
