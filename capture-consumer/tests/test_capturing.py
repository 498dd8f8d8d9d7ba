"""Capturing a confirmed payment's seller lines at a fake provider: no servers."""

from __future__ import annotations

import pytest
from capture_fakes import FakeProvider
from capture_random_events import capture_key, order_confirmed

from capture.domain.model import Payment, PaymentOrderStatus, PaymentStatus
from capture.handlers import capture_seller_lines
from paykit.provider import Capture, ProviderUnavailable
from payment_events.events import CaptureFailed, PaymentCaptured


@pytest.mark.parametrize("amounts", [(1999,), (1000, 250, 4999)], ids=["one seller", "three"])
def test_every_seller_line_is_captured_for_its_own_amount(amounts: tuple[int, ...]) -> None:
    event, provider = order_confirmed(amounts), FakeProvider()
    payment = Payment.split(event)
    capture_seller_lines(payment, provider)

    assert payment.status is PaymentStatus.CAPTURED
    [captured] = payment.events
    assert isinstance(captured, PaymentCaptured)
    assert (captured.order_id, captured.currency) == (event.order_id, "EUR")
    assert captured.amount_minor == sum(amounts)
    assert [(line.seller_id, line.amount_minor) for line in captured.lines] == [
        (line.seller_id, line.amount_minor) for line in event.lines
    ]
    for order, line in zip(payment.orders, captured.lines, strict=True):
        answer = provider.answers[capture_key(event, order.line_no)]
        assert isinstance(answer, Capture)
        assert line.capture_id == order.capture_id == answer.id
        assert answer.reference == order.payment_order_id
        assert answer.authorization_id == event.authorization_id
    assert provider.performed == {capture_key(event, n): 1 for n in range(len(amounts))}


def test_a_refused_line_fails_alone_and_the_payment_is_partially_captured() -> None:
    event, provider = order_confirmed((700, 300, 200)), FakeProvider()
    provider.refuse(capture_key(event, 1), code="amount_exceeds_authorization")
    payment = Payment.split(event)
    capture_seller_lines(payment, provider)

    assert [o.status for o in payment.orders] == [
        PaymentOrderStatus.CAPTURED,
        PaymentOrderStatus.CAPTURE_FAILED,
        PaymentOrderStatus.CAPTURED,
    ]
    assert payment.status is PaymentStatus.PARTIALLY_CAPTURED
    assert payment.captured_minor == 900
    [failed] = payment.events
    assert isinstance(failed, CaptureFailed)
    assert (failed.payment_order_id, failed.line_no, failed.seller_id) == (
        payment.orders[1].payment_order_id,
        1,
        "seller_1",
    )
    assert (failed.currency, failed.amount_minor) == ("EUR", 300)
    assert failed.code == "amount_exceeds_authorization"
    assert failed.reason


def test_a_provider_outage_propagates_for_the_runtime_to_retry() -> None:
    event, provider = order_confirmed((700, 300)), FakeProvider()
    provider.unavailable_once(capture_key(event, 1))
    with pytest.raises(ProviderUnavailable):
        capture_seller_lines(Payment.split(event), provider)

    retried = Payment.split(event)  # the rolled-back attempt left nothing: split again
    capture_seller_lines(retried, provider)
    assert retried.status is PaymentStatus.CAPTURED
    assert provider.performed == {capture_key(event, 0): 1, capture_key(event, 1): 1}
