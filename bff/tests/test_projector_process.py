"""`python -m bff.projector` as it runs in the stack, on the real broker: it relays the BFF's
outbox to Kafka, projects the events it consumes, and dead-letters what it can never apply."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING

import pytest
from bff_events import succeeded
from bff_processes import produce, running_projector
from bff_support import CODEC, new_key, new_payment
from e2e_support import find_event

from payctl.embedded import wait_for
from payment_events.events import PaymentInitiated

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


# Both runtimes: batches by default, and the lanes CONSUMER_RUNTIME=lanes goes back to.
@pytest.fixture(params=["batch", "lanes"])
def projector_process(
    request: pytest.FixtureRequest, bff_database: str, broker: str, tmp_path: Path
) -> Iterator[str]:
    """The running projector; yields the base URL of its health server."""
    runtime = request.param
    with running_projector(bff_database, broker, tmp_path / "projector.log", runtime) as url:
        yield url


def handled_in_batches(log: Path) -> bool:
    # The log has librdkafka's own lines beside the service's JSON ones.
    events = [json.loads(line) for line in log.open() if line.startswith("{")]
    return any(e.get("event") == "batch_handled" for e in events)


def test_the_projector_relays_payments_and_projects_their_events(
    api: TestClient,
    broker: str,
    projector_process: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    response = api.post("/v1/payments", json=new_payment(), headers=new_key())
    payment_id = response.json()["payment_id"]

    published = find_event(broker, "payment-initiated", payment_id)
    initiated = CODEC.decode(published.value())
    assert isinstance(initiated, PaymentInitiated)
    assert initiated.amount_minor == 1250

    produce(broker, succeeded(payment_id, amount=1250))

    def authorized() -> bool:
        return bool(api.get(f"/v1/payments/{payment_id}").json()["status"] == "AUTHORIZED")

    wait_for(authorized, 30, f"payment {payment_id} AUTHORIZED")
    log = tmp_path / "projector.log"
    runtime = request.node.callspec.params["projector_process"]
    assert handled_in_batches(log) == (runtime == "batch")


def test_an_event_for_an_unknown_payment_is_dead_lettered(
    broker: str, projector_process: str
) -> None:
    stranger = str(uuid.uuid4())
    produce(broker, succeeded(stranger))

    dead = find_event(broker, "payment-succeeded.dlq", stranger)
    headers = dict(dead.headers())
    assert headers["dlq.error.code"] == b"unknown_payment"
    assert headers["dlq.service"] == b"bff-projector"
