"""Refunds: money given back from a capture, never more than it took, once per key."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import PspApi

pytestmark = pytest.mark.integration


def captured(psp: PspApi, amount_minor: int = 600) -> str:
    auth = psp.authorize(amount_minor=1000, currency="SEK").json()
    capture = psp.capture(auth["id"], amount_minor)
    assert capture.status_code == 201, capture.text
    capture_id: str = capture.json()["id"]
    return capture_id


def test_a_capture_is_refunded(psp: PspApi) -> None:
    capture_id = captured(psp)

    response = psp.refund(capture_id, 250, key="k-refund", reference="re_1")

    assert response.status_code == 201
    body = response.json()
    assert body["id"].startswith("re_")
    assert body == {
        "id": body["id"],
        "capture_id": capture_id,
        "amount_minor": 250,
        "currency": "SEK",
        "status": "refunded",
        "created_at": body["created_at"],
    }
    assert datetime.fromisoformat(body["created_at"]).tzinfo is not None
    assert "Idempotent-Replayed" not in response.headers


def test_partial_refunds_add_up_to_the_captured_amount(psp: PspApi) -> None:
    capture_id = captured(psp, 600)

    first = psp.refund(capture_id, 400)
    second = psp.refund(capture_id, 200)
    over = psp.refund(capture_id, 1)

    assert (first.status_code, second.status_code) == (201, 201)
    assert over.status_code == 422
    assert over.json()["code"] == "refund_exceeds_capture"
    assert "0 of 600" in over.json()["message"]
    refunds = psp.operations(kind="refund", capture_id=capture_id)
    assert [r["amount_minor"] for r in refunds] == [400, 200]


def test_one_refund_over_the_captured_amount_is_refused_and_leaves_no_operation(
    psp: PspApi,
) -> None:
    capture_id = captured(psp, 600)

    response = psp.refund(capture_id, 601)

    assert response.status_code == 422
    assert set(response.json()) == {"code", "message"}
    assert response.json()["code"] == "refund_exceeds_capture"
    assert psp.operations(kind="refund", capture_id=capture_id) == []


def test_refunds_of_one_capture_do_not_touch_another(psp: PspApi) -> None:
    auth = psp.authorize(amount_minor=1000).json()
    first = psp.capture(auth["id"], 500).json()["id"]
    second = psp.capture(auth["id"], 500).json()["id"]

    assert psp.refund(first, 500).status_code == 201
    assert psp.refund(second, 500).status_code == 201


def test_concurrent_refunds_never_pass_the_captured_amount(psp: PspApi) -> None:
    capture_id = captured(psp, 600)

    with ThreadPoolExecutor(5) as pool:
        responses = list(pool.map(lambda _: psp.refund(capture_id, 250), range(5)))

    assert sorted(r.status_code for r in responses) == [201, 201, 422, 422, 422]
    refunds = psp.operations(kind="refund", capture_id=capture_id)
    assert sum(r["amount_minor"] for r in refunds) == 500


@pytest.mark.parametrize("not_a_capture", ["cap_missing", "authorization", "void"])
def test_only_a_capture_can_be_refunded(psp: PspApi, not_a_capture: str) -> None:
    auth = psp.authorize().json()
    ids = {"cap_missing": "cap_missing", "authorization": auth["id"]}
    if not_a_capture == "void":
        ids["void"] = psp.void(auth["id"]).json()["id"]

    response = psp.refund(ids[not_a_capture], 100)

    assert response.status_code == 404
    assert response.json()["code"] == "capture_not_found"


def test_the_same_refund_again_replays_the_first_answer(psp: PspApi) -> None:
    capture_id = captured(psp, 600)

    first = psp.refund(capture_id, 600, key="k-re-replay", reference="re_replay")
    again = psp.refund(capture_id, 600, key="k-re-replay", reference="re_replay")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(psp.operations(idempotency_key="k-re-replay")) == 1


def test_a_refund_key_with_another_request_is_refused(psp: PspApi) -> None:
    capture_id = captured(psp, 600)
    psp.refund(capture_id, 100, key="k-re-reused", reference="re_reused")

    other = psp.refund(capture_id, 200, key="k-re-reused", reference="re_reused")

    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    [row] = psp.operations(idempotency_key="k-re-reused")
    assert row["amount_minor"] == 100


def test_a_refund_is_a_ledger_row_in_its_authorizations_history(psp: PspApi) -> None:
    auth = psp.authorize(amount_minor=1000, reference="pay_r").json()
    capture = psp.capture(auth["id"], 700, key="k-r-cap", reference="po_r").json()
    refund = psp.refund(capture["id"], 300, key="k-r-re", reference="re_r").json()

    [row] = psp.operations(kind="refund", reference="re_r")
    assert psp.operations(idempotency_key="k-r-re") == [row]
    assert psp.operations(capture_id=capture["id"]) == [row]
    assert {k: row[k] for k in ("kind", "id", "authorization_id", "capture_id")} == {
        "kind": "refund",
        "id": refund["id"],
        "authorization_id": auth["id"],
        "capture_id": capture["id"],
    }
    assert (row["amount_minor"], row["currency"], row["status"]) == (300, "EUR", "refunded")
    assert row["created_at"] == refund["created_at"]
    history = psp.operations(authorization_id=auth["id"])
    assert [(r["kind"], r["capture_id"]) for r in history] == [
        ("authorization", None),
        ("capture", None),
        ("refund", capture["id"]),
    ]


def test_a_refunded_capture_leaves_the_rest_of_the_authorization_capturable(
    psp: PspApi,
) -> None:
    auth = psp.authorize(amount_minor=1000).json()
    capture = psp.capture(auth["id"], 600).json()
    psp.refund(capture["id"], 600)

    rest = psp.capture(auth["id"], 400)
    more = psp.capture(auth["id"], 1)

    assert rest.status_code == 201
    assert more.json()["code"] == "amount_exceeds_authorization"


def test_invalid_refund_parameters_are_refused(psp: PspApi) -> None:
    capture_id = captured(psp)

    responses = [
        psp.refund(capture_id, 0),
        psp.refund(capture_id, 10, currency="EUR"),
        psp.http.post(
            f"/v1/captures/{capture_id}/refunds",
            json={"amount_minor": 1},
            headers={"Idempotency-Key": "k-no-reference"},
        ),
    ]

    assert [r.status_code for r in responses] == [400, 400, 400]
    assert [r.json()["code"] for r in responses] == [
        "invalid_request",
        "invalid_request",
        "invalid_request",
    ]
