"""The synchronous baseline `payctl bench` compares against, beside the session stack: one
request authorizes, creates and confirms the order and captures every line before it answers,
and a provider that cannot answer fails the request."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from e2e_support import count_rows, new_payment, operations

from payctl.baseline.checkout import payment_id_for
from payctl.baseline.launch import start_baseline
from psp_sim.admin_client import reset, set_behaviour
from psp_sim.behaviour import Failure

if TYPE_CHECKING:
    from collections.abc import Iterator

    from payctl.baseline.launch import Baseline
    from payctl.stack import Stack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def baseline(stack: Stack) -> Iterator[Baseline]:
    with start_baseline(stack, workers=2) as running:
        yield running


@pytest.fixture
def client(baseline: Baseline) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=baseline.url, timeout=30, trust_env=False) as c:
        yield c


def check_out(client: httpx.Client, body: dict[str, Any], key: str) -> httpx.Response:
    return client.post("/v1/checkout", json=body, headers={"Idempotency-Key": key})


def authorizations_of(stack: Stack, payment_id: str) -> list[dict[str, Any]]:
    return operations(stack.psp_url, kind="authorization", reference=payment_id)


def captures_of(stack: Stack, authorization_id: str) -> list[dict[str, Any]]:
    return operations(stack.psp_url, kind="capture", authorization_id=authorization_id)


def orders_of(baseline: Baseline, payment_id: str, status: str) -> int:
    return count_rows(
        baseline.database_url,
        "SELECT count(*) FROM orders WHERE payment_id = %s AND status = %s",
        payment_id,
        status,
    )


def test_a_checkout_is_captured_with_one_authorization_and_one_capture_per_line(
    stack: Stack, baseline: Baseline, client: httpx.Client
) -> None:
    amounts = [700, 300, 250]
    response = check_out(client, new_payment(sellers=amounts), uuid.uuid4().hex)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "CAPTURED"
    assert answer["order_id"]
    assert answer["sso_token"]
    assert 0 < answer["order_confirmed_ms"] <= answer["captured_ms"]
    [authorization] = authorizations_of(stack, answer["payment_id"])
    assert authorization["status"] == "authorized"
    assert authorization["amount_minor"] == sum(amounts)
    assert authorization["idempotency_key"] == f"{answer['payment_id']}:authorize"
    captures = captures_of(stack, authorization["id"])
    assert sorted(c["amount_minor"] for c in captures) == sorted(amounts)
    assert sorted(c["idempotency_key"] for c in captures) == [
        f"{answer['payment_id']}:capture:{n}" for n in range(len(amounts))
    ]
    assert orders_of(baseline, answer["payment_id"], "CONFIRMED") == 1


def test_a_declined_card_answers_402_and_nothing_is_captured(
    stack: Stack, baseline: Baseline, client: httpx.Client
) -> None:
    key = uuid.uuid4().hex
    response = check_out(client, new_payment(method="pm_card_declined"), key)
    assert response.status_code == 402, response.text
    assert response.json()["code"] == "card_declined"
    assert response.json()["message"]
    [authorization] = authorizations_of(stack, payment_id_for(key))
    assert authorization["status"] == "declined"
    assert captures_of(stack, authorization["id"]) == []
    assert orders_of(baseline, payment_id_for(key), "CONFIRMED") == 0


def test_the_same_idempotency_key_twice_is_one_payment(stack: Stack, client: httpx.Client) -> None:
    body, key = new_payment(sellers=[500, 400]), uuid.uuid4().hex
    first = check_out(client, body, key)
    again = check_out(client, body, key)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    [authorization] = authorizations_of(stack, first.json()["payment_id"])
    assert len(captures_of(stack, authorization["id"])) == 2


def test_the_same_idempotency_key_with_another_body_is_refused(client: httpx.Client) -> None:
    key = uuid.uuid4().hex
    assert check_out(client, new_payment(sellers=[500]), key).status_code == 200
    refused = check_out(client, new_payment(sellers=[501]), key)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "idempotency_key_reused"


def test_an_unavailable_provider_answers_503_and_a_retry_completes_the_same_payment_once(
    stack: Stack, client: httpx.Client
) -> None:
    body, key = new_payment(sellers=[900, 100]), uuid.uuid4().hex
    set_behaviour(stack.psp_url, failure=Failure(kind="error_5xx"))
    try:
        refused = check_out(client, body, key)
    finally:
        reset(stack.psp_url)
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "provider_unavailable"

    retried = check_out(client, body, key)
    assert retried.status_code == 200, retried.text
    [authorization] = authorizations_of(stack, retried.json()["payment_id"])
    assert len(captures_of(stack, authorization["id"])) == 2
