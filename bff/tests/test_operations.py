"""What ops and tools reach without a token: health, metrics and the API's description."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest
from bff_support import SECRET, bearer, new_key, new_payment
from fastapi.testclient import TestClient

from bff.main import create_app
from bff.settings import Settings
from payctl.embedded import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration


@pytest.fixture
def app_without_database() -> Iterator[TestClient]:
    # Nothing listens on a port just found free: connections are refused at once.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/bff"
    settings = Settings(BFF_DATABASE_URL=url, BFF_AUTH_SECRET=SECRET)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_healthz_is_200_while_the_database_answers(app: TestClient) -> None:
    response = app.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


def test_healthz_is_503_when_the_database_is_unreachable(app_without_database: TestClient) -> None:
    response = app_without_database.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["code"] == "unhealthy"
    assert body["checks"]["database"] != "ok"


def test_a_payment_while_the_database_is_down_is_503_json(
    app_without_database: TestClient,
) -> None:
    response = app_without_database.post(
        "/v1/payments", json=new_payment(), headers=new_key() | bearer("shop")
    )

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == "1"


def test_metrics_and_the_api_description_are_open(app: TestClient) -> None:
    app.get(f"/v1/payments/{uuid.uuid4()}")

    metrics = app.get("/metrics")
    openapi = app.get("/openapi.json")

    assert metrics.status_code == 200
    assert "http_request" in metrics.text
    assert openapi.status_code == 200
    assert {
        "/v1/payments",
        "/v1/payments/{payment_id}",
        "/v1/payments/{payment_id}/refunds",
    } <= set(openapi.json()["paths"])
    assert app.get("/docs").status_code == 200
