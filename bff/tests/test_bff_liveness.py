"""The BFF's liveness against its readiness: with its database down it is not ready (no payment
is routed to it) but alive (no restart, which would not bring the database back)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from bff_support import SECRET
from fastapi.testclient import TestClient

from bff.main import create_app
from bff.settings import Settings
from payctl.embedded import free_port

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def without_database() -> Iterator[TestClient]:
    # Nothing listens on a port just found free: connections are refused at once.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/bff"
    settings = Settings(BFF_DATABASE_URL=url, BFF_AUTH_SECRET=SECRET)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def test_the_bff_without_its_database_is_not_ready_but_alive(
    without_database: TestClient,
) -> None:
    assert without_database.get("/healthz").status_code == 503

    alive = without_database.get("/livez")
    assert alive.status_code == 200
    assert alive.json() == {"status": "ok"}


def test_liveness_probes_are_not_counted_as_requests(without_database: TestClient) -> None:
    without_database.get("/livez")

    assert 'handler="/livez"' not in without_database.get("/metrics").text


def test_not_ready_is_exported_for_alerts(without_database: TestClient) -> None:
    without_database.get("/healthz")

    assert "payments_ready 0.0" in without_database.get("/metrics").text
