"""Event ids name one occurrence: recorded again for the same input, an event keeps its id."""

from __future__ import annotations

import uuid

from payment_events.events import CaptureFailed, PaymentFailed, PaymentRefunded, RefundFailed


def failed(payment_id: str, code: str = "card_declined") -> PaymentFailed:
    return PaymentFailed(payment_id=payment_id, code=code, reason="declined")


def test_the_same_occurrence_gets_the_same_id_whatever_it_says() -> None:
    payment_id = str(uuid.uuid4())
    assert failed(payment_id).event_id == failed(payment_id, "insufficient_funds").event_id
    assert failed(payment_id).event_id != failed(str(uuid.uuid4())).event_id


def test_events_of_one_payment_differ_by_type_and_by_what_they_occur_once_per() -> None:
    payment_id = str(uuid.uuid4())

    def refund_failed(refund_id: str) -> RefundFailed:
        return RefundFailed(
            payment_id=payment_id,
            refund_id=refund_id,
            currency="EUR",
            amount_minor=1,
            code="x",
            reason="x",
        )

    def capture_failed(payment_order_id: str) -> CaptureFailed:
        return CaptureFailed(
            payment_id=payment_id,
            payment_order_id=payment_order_id,
            line_no=0,
            seller_id="s",
            currency="EUR",
            amount_minor=1,
            code="x",
            reason="x",
        )

    refunded = PaymentRefunded(
        payment_id=payment_id,
        refund_id="r1",
        currency="EUR",
        amount_minor=1,
        lines=(),
        refunded_minor=1,
        captured_minor=1,
    )
    ids = {
        failed(payment_id).event_id,
        refund_failed("r1").event_id,
        refund_failed("r2").event_id,
        refunded.event_id,
        capture_failed("po1").event_id,
        capture_failed("po2").event_id,
    }
    assert len(ids) == 6
    assert refund_failed("r1").event_id == refund_failed("r1").event_id


def test_a_given_id_is_kept() -> None:
    assert PaymentFailed(payment_id="p", event_id="e1", code="c", reason="r").event_id == "e1"
