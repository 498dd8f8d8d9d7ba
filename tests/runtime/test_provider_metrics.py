"""`payments_provider_requests_total{operation, outcome}`: every call to the provider is counted
with what came of it, the client-side signal of a provider outage (deploy/prometheus/alerts.yml,
PaymentProviderErrors)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import httpx
import pytest
from prometheus_client import REGISTRY

from paykit.provider import (
    CALLS,
    OUTCOMES,
    OutcomeUnknown,
    ProviderClient,
    ProviderRejected,
    ProviderUnavailable,
)

if TYPE_CHECKING:
    from collections.abc import Callable

METRIC = "payments_provider_requests_total"

AUTHORIZED = {
    "id": "auth_1",
    "status": "authorized",
    "amount_minor": 1000,
    "currency": "EUR",
    "reference": "pay_1",
}


def count(operation: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(METRIC, {"operation": operation, "outcome": outcome})
    return value or 0.0


def provider(answer: Callable[[httpx.Request], httpx.Response]) -> ProviderClient:
    return ProviderClient("http://provider.invalid", transport=httpx.MockTransport(answer))


def answering(status: int, body: object) -> ProviderClient:
    return provider(lambda _request: httpx.Response(status, content=json.dumps(body).encode()))


def authorize(client: ProviderClient, method: str = "pm_card_visa") -> None:
    client.authorize(
        idempotency_key="k", amount_minor=1000, currency="EUR", payment_method=method, reference="p"
    )


def test_every_operation_and_outcome_is_exported_at_zero_before_the_first_call() -> None:
    provider(lambda _request: httpx.Response(500))

    for operation in CALLS:
        for outcome in OUTCOMES:
            assert (
                REGISTRY.get_sample_value(METRIC, {"operation": operation, "outcome": outcome})
                is not None
            ), (operation, outcome)


def test_an_answer_counts_as_ok_a_decline_included() -> None:
    declined = {**AUTHORIZED, "status": "declined", "decline_code": "card_declined"}
    before = count("authorize", "ok")

    authorize(answering(201, AUTHORIZED))
    authorize(answering(201, declined), "pm_card_declined")

    assert count("authorize", "ok") == before + 2


def test_a_refusal_counts_as_rejected() -> None:
    refused = {"code": "amount_exceeds_authorization", "message": "too much"}
    before = count("capture", "rejected")

    with pytest.raises(ProviderRejected):
        answering(409, refused).capture(
            idempotency_key="k", authorization_id="auth_1", amount_minor=100, reference="po"
        )

    assert count("capture", "rejected") == before + 1


def test_a_5xx_to_an_operation_counts_as_unknown_and_to_a_lookup_as_unavailable() -> None:
    failing = answering(503, {"code": "service_unavailable", "message": "down"})
    unknown, unavailable = count("void", "unknown"), count("find_operations", "unavailable")

    with pytest.raises(OutcomeUnknown):
        failing.void(idempotency_key="k", authorization_id="auth_1", reference="p")
    with pytest.raises(ProviderUnavailable) as lookup:
        failing.find_operations("k")

    assert not isinstance(lookup.value, OutcomeUnknown)
    assert count("void", "unknown") == unknown + 1
    assert count("find_operations", "unavailable") == unavailable + 1


def test_a_call_that_never_left_counts_as_unavailable() -> None:
    def refuse_connection(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    before = count("refund", "unavailable")

    with pytest.raises(ProviderUnavailable):
        provider(refuse_connection).refund(
            idempotency_key="k", capture_id="cap_1", amount_minor=1, reference="re"
        )

    assert count("refund", "unavailable") == before + 1
