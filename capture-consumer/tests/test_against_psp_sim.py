"""capture against the real psp-sim over HTTP, its failure switches included: the provider's
ledger shows one capture per line and one refund per refunded line, whatever was lost on the way."""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
import pytest
from capture_delivery import deliver, payment_order_rows, payment_row, published
from capture_random_events import capture_key, order_confirmed, refund_key, refund_requested

import psp_sim
from capture.bootstrap import CaptureService, bootstrap
from payctl.embedded import free_port
from paykit.migrations import upgrade
from paykit.provider import ProviderClient, ProviderUnavailable
from payment_events.events import CaptureFailed, PaymentCaptured, PaymentRefunded
from psp_sim.server import ThreadedServer
from psp_sim.settings import Settings as PspSettings

if TYPE_CHECKING:
    from collections.abc import Iterator

    from capture.settings import Settings
    from payctl.embedded import EmbeddedPostgres
    from paykit.provider import Capture

pytestmark = pytest.mark.integration


@pytest.fixture
def psp_url(postgres: EmbeddedPostgres) -> Iterator[str]:
    name = f"psp_{uuid.uuid4().hex[:12]}"  # the provider's own database, beside capture's
    with psycopg.connect(postgres.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    upgrade(psp_sim.MIGRATIONS, postgres.url(name))
    settings = PspSettings(
        database_url=postgres.url(name), port=free_port(), latency_ms=0, jitter_ms=0
    )
    with ThreadedServer(settings) as server:
        yield server.url


@pytest.fixture
def psp(psp_url: str) -> Iterator[ProviderClient]:
    with ProviderClient(psp_url, timeout=30) as client:
        yield client


@pytest.fixture
def live(settings: Settings, psp_url: str) -> Iterator[CaptureService]:
    service = bootstrap(settings.model_copy(update={"psp_url": psp_url}))
    yield service
    service.wiring.engine.dispose()


class LosesOneAnswer:
    """The real provider, whose answer to one capture is lost on the way back."""

    def __init__(self, provider: ProviderClient, idempotency_key: str) -> None:
        self._provider = provider
        self._lost: str | None = idempotency_key

    def capture(
        self, *, idempotency_key: str, authorization_id: str, amount_minor: int, reference: str
    ) -> Capture:
        done = self._provider.capture(
            idempotency_key=idempotency_key,
            authorization_id=authorization_id,
            amount_minor=amount_minor,
            reference=reference,
        )
        if idempotency_key == self._lost:
            self._lost = None
            raise ProviderUnavailable("read timed out")
        return done


def authorize(psp: ProviderClient, amount_minor: int) -> str:
    held = psp.authorize(
        idempotency_key=f"{uuid.uuid4()}:authorize",
        amount_minor=amount_minor,
        currency="EUR",
        payment_method="pm_card_visa",
        reference=str(uuid.uuid4()),
    )
    assert held.status == "authorized"
    return held.id


def ledger_captures(psp_url: str, authorization_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{psp_url}/v1/operations",
        params={"kind": "capture", "authorization_id": authorization_id},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["operations"]
    return rows


def provider_operations(psp_url: str, **filters: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{psp_url}/v1/operations", params=filters, timeout=30)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["operations"]
    return rows


def fail_next_operation(psp_url: str, kind: str, **failure: Any) -> None:
    """Switches psp-sim to fail its next operation (`timeout`: do it, then withhold the answer;
    `error_5xx_after_commit`: do it, then answer 500)."""
    switches = {"failure": {"kind": kind, "count": 1, **failure}}
    response = httpx.put(f"{psp_url}/admin/behaviour", json=switches, timeout=30)
    assert response.status_code == 200, response.text


def test_a_lost_answer_a_retry_and_a_duplicate_leave_one_capture_per_line(
    settings: Settings, live: CaptureService, psp_url: str, psp: ProviderClient
) -> None:
    authorization_id = authorize(psp, 6249)
    event = order_confirmed((1000, 250, 4999), authorization_id=authorization_id)
    flaky = bootstrap(settings, provider=LosesOneAnswer(psp, capture_key(event, 1)))
    try:
        assert deliver(flaky, event) == "retry_later"
    finally:
        flaky.wiring.engine.dispose()
    assert len(ledger_captures(psp_url, authorization_id)) == 3  # it did the 2nd one too

    assert deliver(live, event, attempt=2) == "handled"  # the retry schedule's next try
    assert deliver(live, dataclasses.replace(event, event_id=str(uuid.uuid4()))) == "handled"
    [captured] = published(live)

    rows = ledger_captures(psp_url, authorization_id)
    assert sorted(r["idempotency_key"] for r in rows) == [capture_key(event, n) for n in range(3)]
    assert sum(r["amount_minor"] for r in rows) == 6249
    assert isinstance(captured, PaymentCaptured)
    assert {line.capture_id for line in captured.lines} == {r["id"] for r in rows}
    assert {line.payment_order_id for line in captured.lines} == {r["reference"] for r in rows}


def test_a_line_the_provider_refuses_fails_and_the_rest_is_captured(
    live: CaptureService, psp_url: str, psp: ProviderClient
) -> None:
    authorization_id = authorize(psp, 1000)  # less than the confirmation claims
    event = order_confirmed((1000, 300), authorization_id=authorization_id)
    deliver(live, event)

    assert payment_row(live, event.payment_id).status == "PARTIALLY_CAPTURED"
    failed, captured = published(live)
    assert isinstance(failed, CaptureFailed)
    assert (failed.line_no, failed.code) == (1, "amount_exceeds_authorization")
    assert isinstance(captured, PaymentCaptured)
    assert (captured.partial, captured.amount_minor) == (True, 1000)
    [row] = ledger_captures(psp_url, authorization_id)
    assert (row["idempotency_key"], row["amount_minor"]) == (capture_key(event, 0), 1000)


def test_a_capture_the_provider_made_but_answered_with_a_500_is_adopted_not_repeated(
    live: CaptureService, psp_url: str, psp: ProviderClient
) -> None:
    authorization_id = authorize(psp, 1300)
    event = order_confirmed((1000, 300), authorization_id=authorization_id)
    fail_next_operation(psp_url, "error_5xx_after_commit")
    assert deliver(live, event) == "retry_later"
    assert [o.status for o in payment_order_rows(live, event.payment_id)] == [
        "PENDING_CAPTURE",
        "CAPTURED",
    ]
    assert deliver(live, event, attempt=2) == "handled"
    assert payment_row(live, event.payment_id).status == "CAPTURED"
    assert len(ledger_captures(psp_url, authorization_id)) == 2


def test_refunds_go_back_from_each_lines_capture_once_despite_a_timed_out_answer(
    settings: Settings, psp_url: str, psp: ProviderClient
) -> None:
    impatient = bootstrap(
        settings.model_copy(update={"psp_url": psp_url, "psp_timeout_seconds": 1.0})
    )
    try:
        authorization_id = authorize(psp, 1300)
        event = order_confirmed((1000, 300), authorization_id=authorization_id)
        deliver(impatient, event)
        refund = refund_requested(event, {0: 400, 1: 300})
        fail_next_operation(psp_url, "timeout", hold_seconds=10)
        assert deliver(impatient, refund) == "retry_later"
        assert deliver(impatient, refund, attempt=2) == "handled"
        _, refunded = published(impatient)
    finally:
        impatient.wiring.engine.dispose()

    captures = {r["reference"]: r for r in ledger_captures(psp_url, authorization_id)}
    refunds = provider_operations(psp_url, kind="refund", authorization_id=authorization_id)
    assert sorted(r["idempotency_key"] for r in refunds) == [refund_key(refund, n) for n in (0, 1)]
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.amount_minor, refunded.refunded_minor) == (700, 700)
    for line in refunded.lines:
        [done] = [r for r in refunds if r["id"] == line.provider_refund_id]
        assert done["capture_id"] == captures[line.payment_order_id]["id"]
        assert done["amount_minor"] == line.amount_minor
    assert payment_row(impatient, event.payment_id).status == "PARTIALLY_REFUNDED"
