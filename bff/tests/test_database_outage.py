"""The BFF while its database is away: the API answers 503 with Retry-After (never a 500 or a
stack trace), the projector reports not ready and waits, and both carry on by themselves, with
no restart, once the database is back.

Each test runs a PostgreSQL of its own, so stopping it disturbs no other test: the embedded
server listens only on a Unix socket inside its data directory, the same path after a restart on
the same directory, so the processes' URL stays valid across the outage."""

from __future__ import annotations

import shutil
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from bff_events import captured_lines, confirmed, succeeded
from bff_processes import health, produce, running_projector
from bff_support import SECRET, bearer, deliver, new_key, new_payment
from fastapi.testclient import TestClient

import bff
from bff.main import create_app
from bff.projector.bootstrap import bootstrap
from bff.settings import ProjectorSettings, Settings
from payctl.embedded import EmbeddedPostgres, wait_for
from paykit.migrations import upgrade

if TYPE_CHECKING:
    from collections.abc import Iterator

    from httpx import Response

pytestmark = pytest.mark.integration


@pytest.fixture
def own_postgres() -> Iterator[EmbeddedPostgres]:
    # In a directory of its own under the system's temporary directory, not under pytest's: a
    # pytest session starting meanwhile makes /tmp/pytest-of-<user> private again, which would
    # lock the server's own user (when tests run as root) out of its data on the restart.
    data = Path(tempfile.mkdtemp(prefix="bff-outage-"))
    server = EmbeddedPostgres(data / "pg")
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def database(own_postgres: EmbeddedPostgres) -> str:
    url = own_postgres.ensure_database("bff")
    upgrade(bff.MIGRATIONS, url)
    return url


@pytest.fixture
def api(database: str) -> Iterator[TestClient]:
    settings = Settings(BFF_DATABASE_URL=database, BFF_AUTH_SECRET=SECRET)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers.update(bearer(f"client_{uuid.uuid4().hex[:8]}"))
        yield client


def captured_payment(api: TestClient, database: str) -> str:
    payment_id = str(
        api.post("/v1/payments", json=new_payment(), headers=new_key()).json()["payment_id"]
    )
    projector = bootstrap(ProjectorSettings(BFF_DATABASE_URL=database))
    try:
        deliver(projector, succeeded(payment_id, seconds=-3, amount=1250))
        deliver(projector, confirmed(payment_id, seconds=-2))
        deliver(projector, captured_lines(payment_id, {0: 1000, 1: 250}, seconds=-1))
    finally:
        projector.wiring.engine.dispose()
    return payment_id


def every_route(api: TestClient, payment_id: str) -> dict[str, Response]:
    refund = {"lines": [{"line_no": 0, "amount_minor": 100}]}
    return {
        "POST /v1/payments": api.post("/v1/payments", json=new_payment(), headers=new_key()),
        "GET /v1/payments/{id}": api.get(f"/v1/payments/{payment_id}"),
        "POST /v1/payments/{id}/refunds": api.post(
            f"/v1/payments/{payment_id}/refunds", json=refund, headers=new_key()
        ),
        "GET /healthz": api.get("/healthz"),
    }


def test_every_route_answers_503_while_the_database_is_down_and_recovers_by_itself(
    api: TestClient, database: str, own_postgres: EmbeddedPostgres
) -> None:
    payment_id = captured_payment(api, database)
    # The pool now holds connections that the outage will break under it.
    assert {r.status_code for r in every_route(api, payment_id).values()} <= {200, 202}

    own_postgres.stop()
    during = every_route(api, payment_id)

    for route, response in during.items():
        assert response.status_code == 503, route
        assert response.headers["Retry-After"] == "1", route
        body = response.json()
        assert body["code"] in {"database_unavailable", "unhealthy"}, route
        assert body["message"], route
        assert "Traceback" not in response.text, route
    assert during["POST /v1/payments"].json()["code"] == "database_unavailable"

    own_postgres.start()
    wait_for(lambda: api.get("/healthz").status_code == 200, 30, "the BFF healthy again")
    after = every_route(api, payment_id)

    assert {route: r.status_code for route, r in after.items()} == {
        "POST /v1/payments": 202,
        "GET /v1/payments/{id}": 200,
        "POST /v1/payments/{id}/refunds": 202,
        "GET /healthz": 200,
    }
    assert after["GET /v1/payments/{id}"].json()["status"] == "CAPTURED"


def test_a_database_that_never_answers_is_a_prompt_503() -> None:
    # A socket that listens but never accepts: the kernel completes the TCP handshake, and the
    # server's answer never comes, as with a host that is gone behind a stateful firewall.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        port = silent.getsockname()[1]
        settings = Settings(
            BFF_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/bff",
            BFF_AUTH_SECRET=SECRET,
        )
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            started = time.monotonic()
            response = client.post(
                "/v1/payments", json=new_payment(), headers=new_key() | bearer("shop")
            )
            waited = time.monotonic() - started

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert waited < 10


def test_the_projector_is_not_ready_during_an_outage_and_then_projects_what_arrived(
    api: TestClient,
    database: str,
    own_postgres: EmbeddedPostgres,
    broker: str,
    tmp_path: Path,
) -> None:
    payment_id = str(
        api.post("/v1/payments", json=new_payment(), headers=new_key()).json()["payment_id"]
    )

    with running_projector(database, broker, tmp_path / "projector.log") as projector:
        own_postgres.stop()
        wait_for(lambda: health(projector) == 503, 30, "the projector reporting not ready")
        # Consumed while the database is away: retried in place, neither lost nor committed.
        produce(broker, succeeded(payment_id, amount=1250))

        own_postgres.start()
        wait_for(lambda: health(projector) == 200, 60, "the projector ready again")

        def authorized() -> bool:
            return bool(api.get(f"/v1/payments/{payment_id}").json()["status"] == "AUTHORIZED")

        wait_for(authorized, 60, f"payment {payment_id} AUTHORIZED after the outage")
