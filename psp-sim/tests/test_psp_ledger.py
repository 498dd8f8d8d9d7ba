"""The ledger: one row per operation performed, found by any combination of filters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import PspApi

pytestmark = pytest.mark.integration


def test_every_operation_is_a_row_in_order_of_creation(psp: PspApi) -> None:
    auth = psp.authorize(key="k-auth", amount_minor=1000, currency="EUR", reference="pay_l").json()
    psp.capture(auth["id"], 300, key="k-cap-1", reference="po_1")
    psp.capture(auth["id"], 200, key="k-cap-2", reference="po_2")

    rows = psp.operations(authorization_id=auth["id"])

    assert [(r["kind"], r["idempotency_key"], r["reference"], r["amount_minor"]) for r in rows] == [
        ("authorization", "k-auth", "pay_l", 1000),
        ("capture", "k-cap-1", "po_1", 300),
        ("capture", "k-cap-2", "po_2", 200),
    ]
    assert {r["currency"] for r in rows} == {"EUR"}
    assert {r["status"] for r in rows} == {"authorized", "succeeded"}
    assert rows[0]["created_at"] <= rows[1]["created_at"] <= rows[2]["created_at"]


def test_filters_combine(psp: PspApi) -> None:
    first = psp.authorize(reference="pay_a").json()
    second = psp.authorize(reference="pay_b").json()
    psp.capture(first["id"], 100, key="k-a-cap", reference="po_a")
    psp.void(second["id"], key="k-b-void")

    assert [r["id"] for r in psp.operations(reference="pay_a")] == [first["id"]]
    assert len(psp.operations(kind="capture")) == 1
    assert len(psp.operations(kind="authorization")) == 2
    assert psp.operations(kind="void", authorization_id=first["id"]) == []
    [void] = psp.operations(kind="void", authorization_id=second["id"])
    assert void["idempotency_key"] == "k-b-void"
    assert void["amount_minor"] is None
    [capture] = psp.operations(idempotency_key="k-a-cap", kind="capture")
    assert capture["reference"] == "po_a"
    assert psp.operations(idempotency_key="k-never-used") == []


def test_an_unknown_filter_is_refused_rather_than_ignored(psp: PspApi) -> None:
    response = psp.http.get("/v1/operations", params={"idempotencykey": "k"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_request"
