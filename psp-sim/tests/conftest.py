"""psp-sim served for real on a free port, over a freshly migrated database, for each test."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from payctl.embedded import free_port
from psp_sim import MIGRATIONS
from psp_sim.server import ThreadedServer
from psp_sim.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from payctl.embedded import EmbeddedPostgres


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


class PspApi:
    """The provider's HTTP API with defaults, so each test states only what it is about."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def authorize(self, key: str | None = None, **body: Any) -> httpx.Response:
        payload = {
            "amount_minor": 1000,
            "currency": "EUR",
            "payment_method": "pm_card_visa",
            "reference": new_id("pay"),
        } | body
        return self.http.post("/v1/authorizations", json=payload, headers=self._key(key))

    def capture(
        self, authorization_id: str, amount_minor: int, key: str | None = None, **body: Any
    ) -> httpx.Response:
        payload = {"amount_minor": amount_minor, "reference": new_id("po")} | body
        path = f"/v1/authorizations/{authorization_id}/capture"
        return self.http.post(path, json=payload, headers=self._key(key))

    def void(self, authorization_id: str, key: str | None = None) -> httpx.Response:
        path = f"/v1/authorizations/{authorization_id}/void"
        return self.http.post(path, json={"reference": new_id("pay")}, headers=self._key(key))

    def refund(
        self, capture_id: str, amount_minor: int, key: str | None = None, **body: Any
    ) -> httpx.Response:
        payload = {"amount_minor": amount_minor, "reference": new_id("re")} | body
        path = f"/v1/captures/{capture_id}/refunds"
        return self.http.post(path, json=payload, headers=self._key(key))

    def operations(self, **filters: str) -> list[dict[str, Any]]:
        response = self.http.get("/v1/operations", params=filters)
        assert response.status_code == 200, response.text
        found: list[dict[str, Any]] = response.json()["operations"]
        return found

    def _key(self, key: str | None) -> dict[str, str]:
        return {"Idempotency-Key": key or new_id("key")}


def serve(database_url: str) -> ThreadedServer:
    return ThreadedServer(
        Settings(database_url=database_url, port=free_port(), latency_ms=0, jitter_ms=0)
    )


@pytest.fixture
def psp_database(migrated_database: Callable[[Path], str]) -> str:
    return migrated_database(MIGRATIONS)


@pytest.fixture
def psp_url(psp_database: str) -> Iterator[str]:
    with serve(psp_database) as server:
        yield server.url


@pytest.fixture
def psp(psp_url: str) -> Iterator[PspApi]:
    with httpx.Client(base_url=psp_url, timeout=30) as http:
        yield PspApi(http)


@pytest.fixture
def psp_without_database(postgres: EmbeddedPostgres) -> Iterator[PspApi]:
    """psp-sim pointed at a database that does not exist."""
    with (
        serve(postgres.url(new_id("missing"))) as server,
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        yield PspApi(http)
