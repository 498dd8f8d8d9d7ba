"""The projector's handlers through the real unit of work, migrations and Postgres: each
downstream event moves the read model the API shows."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from bff_events import (
    capture_failed,
    captured,
    confirmed,
    declined,
    order_failed,
    succeeded,
    voided,
)
from bff_support import deliver, new_key, new_payment, row_counts

from bff.domain.errors import UnknownPayment
from bff.projector.entrypoint import CATALOG_NAME
from bff.projector.handlers import HANDLERS
from paykit.errors import PermanentError
from payment_events.catalog import CATALOG

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from bff.projector.bootstrap import Projector

pytestmark = pytest.mark.integration


def accept(api: TestClient) -> str:
    response = api.post("/v1/payments", json=new_payment(), headers=new_key())
    assert response.status_code == 202
    return str(response.json()["payment_id"])


def status(api: TestClient, payment_id: str) -> dict[str, Any]:
    response = api.get(f"/v1/payments/{payment_id}")
    assert response.status_code == 200
    shown: dict[str, Any] = response.json()
    return shown


def test_every_event_the_catalog_sends_the_bff_has_a_handler() -> None:
    consumed = {t.event_type for t in CATALOG if CATALOG_NAME in t.consumers}
    assert set(HANDLERS) == consumed


def test_a_payment_goes_from_processing_to_captured(api: TestClient, projector: Projector) -> None:
    payment_id = accept(api)

    deliver(projector, succeeded(payment_id, amount=1250))
    assert status(api, payment_id)["status"] == "AUTHORIZED"
    deliver(projector, confirmed(payment_id))
    shown = status(api, payment_id)
    assert shown["status"] == "ORDER_CONFIRMED"
    assert (shown["order_id"], shown["sso_token"]) == ("ord_1", "sso.token.value")
    assert shown["redirect_url"].startswith("https://saas.example/")
    deliver(projector, captured(payment_id, amount=1250))

    shown = status(api, payment_id)
    assert shown["status"] == "CAPTURED"
    assert shown["authorized_minor"] == shown["captured_minor"] == 1250
    assert [h["status"] for h in shown["history"]] == [
        "PROCESSING",
        "AUTHORIZED",
        "ORDER_CONFIRMED",
        "CAPTURED",
    ]
    assert [h["event"] for h in shown["history"]][1:] == [
        "PaymentSucceeded",
        "OrderConfirmed",
        "PaymentCaptured",
    ]
    assert shown["updated_at"] > shown["created_at"]


def test_events_arriving_out_of_order_end_where_the_payment_is(
    api: TestClient, projector: Projector
) -> None:
    payment_id = accept(api)

    deliver(projector, captured(payment_id, seconds=3))
    deliver(projector, succeeded(payment_id, seconds=1))
    deliver(projector, confirmed(payment_id, seconds=2))

    shown = status(api, payment_id)
    assert shown["status"] == "CAPTURED"
    assert shown["authorized_minor"] == 1500
    assert shown["sso_token"] == "sso.token.value"
    assert [h["event"] for h in shown["history"]][1:] == [
        "PaymentSucceeded",
        "OrderConfirmed",
        "PaymentCaptured",
    ]


def test_a_decline_shows_its_code_and_reason(api: TestClient, projector: Projector) -> None:
    payment_id = accept(api)
    deliver(projector, declined(payment_id))

    shown = status(api, payment_id)
    assert shown["status"] == "DECLINED"
    assert (shown["failure_code"], shown["failure_reason"]) == (
        "card_declined",
        "Your card was declined.",
    )


def test_a_refused_order_fails_and_its_void_adds_history(
    api: TestClient, projector: Projector
) -> None:
    payment_id = accept(api)
    deliver(projector, succeeded(payment_id))
    deliver(projector, order_failed(payment_id))
    deliver(projector, voided(payment_id))

    shown = status(api, payment_id)
    assert shown["status"] == "FAILED"
    assert shown["failure_code"] == "customer_blocked"
    assert [(h["status"], h["event"]) for h in shown["history"]][-2:] == [
        ("FAILED", "OrderFailed"),
        ("FAILED", "PaymentVoided"),
    ]


def test_a_capture_failure_is_recorded_in_history(api: TestClient, projector: Projector) -> None:
    payment_id = accept(api)
    deliver(projector, succeeded(payment_id))
    deliver(projector, confirmed(payment_id))
    deliver(projector, capture_failed(payment_id))

    shown = status(api, payment_id)
    assert shown["status"] == "ORDER_CONFIRMED"
    assert shown["history"][-1]["event"] == "CaptureFailed"


def test_a_redelivered_event_changes_nothing(
    api: TestClient, projector: Projector, bff_database: str
) -> None:
    payment_id = accept(api)
    event = succeeded(payment_id)
    assert deliver(projector, event)
    before = row_counts(bff_database)

    assert not deliver(projector, event)
    assert row_counts(bff_database) == before


def test_an_event_for_a_payment_the_bff_never_accepted_is_permanent(
    projector: Projector, bff_database: str
) -> None:
    before = row_counts(bff_database)
    with pytest.raises(UnknownPayment) as refused:
        deliver(projector, succeeded("00000000-0000-4000-8000-000000000000"))

    assert isinstance(refused.value, PermanentError)
    assert refused.value.code == "unknown_payment"
    assert row_counts(bff_database) == before
