"""The accept routes are served past FastAPI's dependency machinery (`paykit.direct_routes`), and
a request they would refuse is still answered by FastAPI, as documented."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from bff_support import new_key, new_payment, open_session, shopper

from bff.api.deps import get_acceptance

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


@pytest.fixture
def no_dependencies(api: TestClient) -> TestClient:
    """The app with FastAPI's way to the accept path's recorder broken."""

    async def unreachable() -> None:
        raise AssertionError("FastAPI solved the accept route's dependencies")

    api.app.dependency_overrides[get_acceptance] = unreachable  # type: ignore[attr-defined]
    return api


def test_a_payment_is_accepted_without_fastapis_dependencies(no_dependencies: TestClient) -> None:
    answer = no_dependencies.post("/v1/payments", json=new_payment(), headers=new_key())
    assert answer.status_code == 202, answer.text


def test_a_checkout_session_is_paid_without_fastapis_dependencies(
    no_dependencies: TestClient,
) -> None:
    session_id, key, _ = open_session(no_dependencies)
    answer = no_dependencies.post(
        f"/v1/checkout/{session_id}/payments",
        json={"payment_method": "pm_card_visa"},
        headers=shopper(key, **new_key()),
    )
    assert answer.status_code == 202, answer.text


def test_a_refused_request_is_answered_by_fastapi_with_every_problem(api: TestClient) -> None:
    body = new_payment()
    body["lines"][0]["amount_minor"] = 0
    answer = api.post("/v1/payments", json=body)
    assert answer.status_code == 422
    assert sorted(answer.json()["errors"], key=lambda e: e["field"]) == [
        {
            "field": "Idempotency-Key",
            "code": "idempotency_key_required",
            "message": "Idempotency-Key header: Field required",
        },
        {
            "field": "lines.0.amount_minor",
            "code": "must_be_positive",
            "message": "Input should be greater than 0",
        },
    ]


def test_an_unknown_client_is_refused_before_its_body_is_read(app: TestClient) -> None:
    answer = app.post("/v1/payments", content=b"not json", headers=new_key())
    assert answer.status_code == 401
    assert answer.json()["code"] == "unauthorized"
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="payments-bff"'
