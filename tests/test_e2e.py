"""The whole choreography on the embedded stack: BFF → billing → orders → capture → status."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from e2e_support import (
    count_rows,
    new_payment,
    operations,
    pay,
    wait_for_history,
    wait_status,
)

from payctl.embedded import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e


@pytest.fixture
def client(stack: Any) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=stack.bff_url, headers={"Authorization": f"Bearer {stack.token}"}, timeout=10
    ) as c:
        yield c


def captures_of(stack: Any, payment: dict[str, Any]) -> list[dict[str, Any]]:
    [auth] = operations(stack.psp_url, kind="authorization", reference=payment["payment_id"])
    return operations(stack.psp_url, kind="capture", authorization_id=auth["id"])


def test_a_one_seller_payment_goes_from_processing_to_captured(
    stack: Any, client: httpx.Client
) -> None:
    payment_id = pay(client, new_payment(sellers=[1999]))
    wait_status(client, payment_id, {"CAPTURED"})
    # The projector reads each event type from its own topic, so PaymentCaptured may be
    # projected before the OrderConfirmed it followed; the history is kept in causal order.
    status = wait_for_history(client, payment_id, {"AUTHORIZED", "ORDER_CONFIRMED", "CAPTURED"})
    assert [h["status"] for h in status["history"]][:1] == ["PROCESSING"]
    assert status["authorized_minor"] == status["captured_minor"] == 1999
    assert status["order_id"]
    assert status["sso_token"]
    assert status["redirect_url"]
    [capture] = captures_of(stack, status)
    assert capture["amount_minor"] == 1999


def test_several_sellers_are_captured_line_by_line(stack: Any, client: httpx.Client) -> None:
    amounts = [1000, 250, 4999]
    payment_id = pay(client, new_payment(sellers=amounts))
    status = wait_status(client, payment_id, {"CAPTURED"})
    assert status["captured_minor"] == sum(amounts)
    assert sorted(c["amount_minor"] for c in captures_of(stack, status)) == sorted(amounts)
    assert (
        count_rows(
            stack.database_url("capture"),
            "SELECT count(*) FROM payment_orders WHERE payment_id = %s",
            payment_id,
        )
        == 3
    )


def test_a_declined_card_ends_declined_with_no_order_and_no_capture(
    stack: Any, client: httpx.Client
) -> None:
    payment_id = pay(client, new_payment(method="pm_card_declined"))
    status = wait_status(client, payment_id, {"DECLINED"})
    assert status["failure_code"] == "card_declined"
    assert status["failure_reason"]
    assert (
        count_rows(
            stack.database_url("orders"),
            "SELECT count(*) FROM orders WHERE payment_id = %s",
            payment_id,
        )
        == 0
    )
    [auth] = operations(stack.psp_url, kind="authorization", reference=payment_id)
    assert auth["status"] == "declined"
    assert operations(stack.psp_url, kind="capture", authorization_id=auth["id"]) == []


def test_a_refused_order_voids_the_authorization_and_captures_nothing(
    stack: Any, client: httpx.Client
) -> None:
    payment_id = pay(client, new_payment(customer="cus_blocked"))
    status = wait_status(client, payment_id, {"FAILED"})
    assert status["failure_code"] == "customer_blocked"
    assert "blocked" in status["failure_reason"]
    [auth] = operations(stack.psp_url, kind="authorization", reference=payment_id)

    def voids() -> list[dict[str, Any]]:
        return operations(stack.psp_url, kind="void", authorization_id=auth["id"])

    wait_for(lambda: len(voids()) == 1, 30, "the authorization voided")
    assert operations(stack.psp_url, kind="capture", authorization_id=auth["id"]) == []


def test_the_same_key_replays_and_another_body_is_refused(client: httpx.Client) -> None:
    body, key = new_payment(), {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post("/v1/payments", json=body, headers=key)
    again = client.post("/v1/payments", json=body, headers=key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = client.post("/v1/payments", json=new_payment(), headers=key)
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_without_a_token_the_bff_answers_401(stack: Any) -> None:
    response = httpx.post(f"{stack.bff_url}/v1/payments", json=new_payment(), timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
