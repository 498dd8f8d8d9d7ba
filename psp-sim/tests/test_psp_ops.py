"""Health, metrics, errors of the server itself, and the schema its migrations build."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from paykit.db import make_engine
from psp_sim.tables import metadata

if TYPE_CHECKING:
    from conftest import PspApi

pytestmark = pytest.mark.integration


def test_health_is_ok_while_the_database_answers(psp: PspApi) -> None:
    response = psp.http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_is_unavailable_without_its_database(psp_without_database: PspApi) -> None:
    health = psp_without_database.http.get("/healthz")
    authorization = psp_without_database.authorize()

    assert health.status_code == 503
    assert health.json()["status"] == "unavailable"
    assert authorization.status_code == 503
    assert authorization.json()["code"] == "database_unavailable"


def test_metrics_count_operations_by_kind_and_outcome(psp: PspApi) -> None:
    psp.authorize(payment_method="pm_card_declined")

    text = psp.http.get("/metrics").text

    assert 'psp_operations_total{kind="authorization",outcome="declined"}' in text


def test_the_openapi_document_describes_the_operations(psp: PspApi) -> None:
    paths = psp.http.get("/openapi.json").json()["paths"]

    capture = paths["/v1/authorizations/{authorization_id}/capture"]["post"]
    body = capture["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"amount_minor", "reference"}
    assert body["additionalProperties"] is False
    assert {"201", "404", "409"} <= set(capture["responses"])
    assert {"/v1/authorizations", "/v1/captures/{capture_id}/refunds"} <= set(paths)


def test_an_unknown_path_answers_with_the_error_shape(psp: PspApi) -> None:
    response = psp.http.get("/v1/nothing-here")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_migrations_build_the_tables_the_code_uses(psp_database: str) -> None:
    engine = make_engine(psp_database)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()

    assert differences == []
