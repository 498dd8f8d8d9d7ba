"""Capturing a confirmed payment's seller lines at a fake provider: no servers."""

from __future__ import annotations

import pytest
from capture_fakes import FakeProvider
from capture_random_events import capture_key, order_confirmed

from capture.domain.model import Payment
from capture.domain.states import PaymentOrderStatus, PaymentStatus
from capture.seller_lines import capture_seller_lines, give_up_captures
from paykit.provider import Capture
from payment_events.events import CaptureFailed, PaymentCaptured


@pytest.mark.parametrize("amounts", [(1999,), (1000, 250, 4999)], ids=["one seller", "three"])
def test_every_seller_line_is_captured_for_its_own_amount(amounts: tuple[int, ...]) -> None:
    event, provider = order_confirmed(amounts), FakeProvider()
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)

    assert payment.status is PaymentStatus.CAPTURED
    [captured] = payment.events
    assert isinstance(captured, PaymentCaptured)
    assert (captured.order_id, captured.currency, captured.partial) == (
        event.order_id,
        "EUR",
        False,
    )
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
    assert provider.asked == {}  # a first try has nothing to ask about


def test_a_refused_line_fails_alone_and_the_captured_lines_are_announced_as_partial() -> None:
    event, provider = order_confirmed((700, 300, 200)), FakeProvider()
    provider.refuse(capture_key(event, 1), code="amount_exceeds_authorization")
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)

    assert [o.status for o in payment.orders] == [
        PaymentOrderStatus.CAPTURED,
        PaymentOrderStatus.CAPTURE_FAILED,
        PaymentOrderStatus.CAPTURED,
    ]
    assert payment.status is PaymentStatus.PARTIALLY_CAPTURED
    assert payment.captured_minor == 900
    failed, captured = payment.events
    assert isinstance(failed, CaptureFailed)
    assert (failed.payment_order_id, failed.line_no, failed.seller_id) == (
        payment.orders[1].payment_order_id,
        1,
        "seller_1",
    )
    assert (failed.currency, failed.amount_minor) == ("EUR", 300)
    assert failed.code == "amount_exceeds_authorization"
    assert failed.reason
    assert isinstance(captured, PaymentCaptured)
    assert captured.partial
    assert [line.line_no for line in captured.lines] == [0, 2]
    assert captured.amount_minor == 900


@pytest.mark.parametrize("after_performing", [False, True], ids=["not sent", "answer lost"])
def test_a_line_without_an_answer_is_left_pending_while_the_others_are_captured(
    after_performing: bool,
) -> None:
    event, provider = order_confirmed((700, 300, 200)), FakeProvider()
    provider.unavailable_once(capture_key(event, 1), after_performing=after_performing)
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)

    assert [o.status for o in payment.orders] == [
        PaymentOrderStatus.CAPTURED,
        PaymentOrderStatus.PENDING_CAPTURE,
        PaymentOrderStatus.CAPTURED,
    ]
    assert payment.status is PaymentStatus.CAPTURE_PENDING
    assert payment.events == []


def test_a_pending_line_is_settled_by_asking_the_provider_not_by_capturing_again() -> None:
    event, provider = order_confirmed((700, 300)), FakeProvider()
    provider.unavailable_once(capture_key(event, 1), after_performing=True)
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)

    capture_seller_lines(payment, provider, ask_first=False)  # the retry
    assert payment.status is PaymentStatus.CAPTURED
    assert provider.asked == {capture_key(event, 1): 1}
    assert provider.calls[capture_key(event, 1)] == 1  # never sent again
    assert payment.orders[1].capture_id == provider.operations[capture_key(event, 1)].id


def test_a_pending_line_the_provider_never_saw_is_sent_again_under_the_same_key() -> None:
    event, provider = order_confirmed((700, 300)), FakeProvider()
    provider.unavailable_once(capture_key(event, 1))
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)

    capture_seller_lines(payment, provider, ask_first=False)
    assert payment.status is PaymentStatus.CAPTURED
    assert provider.calls[capture_key(event, 1)] == 2
    assert provider.performed[capture_key(event, 1)] == 1


def test_a_retry_asks_about_every_line_before_sending_any() -> None:
    event, provider = order_confirmed((700, 300)), FakeProvider()
    provider.capture(
        idempotency_key=capture_key(event, 0),
        authorization_id=event.authorization_id,
        amount_minor=700,
        reference=Payment.split(event).orders[0].payment_order_id,
    )  # an earlier try, rolled back on our side, reached the provider
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=True)

    assert payment.status is PaymentStatus.CAPTURED
    assert provider.asked == {capture_key(event, 0): 1, capture_key(event, 1): 1}
    assert provider.calls == {capture_key(event, 0): 1, capture_key(event, 1): 1}


def test_a_capture_answered_with_another_status_is_not_taken_as_captured() -> None:
    event, provider = order_confirmed((700,)), FakeProvider()
    provider.perform_with_status(capture_key(event, 0), "pending")
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)
    assert payment.orders[0].status is PaymentOrderStatus.PENDING_CAPTURE
    assert payment.journal == []

    capture_seller_lines(payment, provider, ask_first=True)  # the provider still says "pending"
    assert payment.orders[0].status is PaymentOrderStatus.PENDING_CAPTURE


def test_a_line_that_cannot_even_be_asked_about_stays_pending() -> None:
    event, provider = order_confirmed((700,)), FakeProvider()
    provider.unavailable_once(capture_key(event, 0), after_performing=True)
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)
    provider.down = True
    capture_seller_lines(payment, provider, ask_first=True)
    assert payment.orders[0].status is PaymentOrderStatus.PENDING_CAPTURE
    assert provider.calls[capture_key(event, 0)] == 1


@pytest.mark.parametrize(
    ("status", "decline_code"),
    [("failed", None), ("declined", "authorization_expired"), ("canceled", None)],
)
@pytest.mark.parametrize("ask_first", [False, True], ids=["answered", "asked"])
def test_a_capture_the_provider_reports_failed_fails_the_line_with_that_code(
    status: str, decline_code: str | None, ask_first: bool
) -> None:
    # Its answer to a capture says only the status; its ledger may say why, too.
    code = (decline_code if ask_first else None) or status
    event, provider = order_confirmed((700, 300)), FakeProvider()
    provider.perform_with_status(capture_key(event, 0), status, decline_code)
    payment = Payment.split(event)
    if ask_first:  # an earlier try reached the provider; this one learns of it by asking
        provider.unavailable_once(capture_key(event, 0), after_performing=True)
        capture_seller_lines(payment, provider, ask_first=False)
        assert payment.orders[0].status is PaymentOrderStatus.PENDING_CAPTURE
    capture_seller_lines(payment, provider, ask_first=ask_first)

    assert [(o.status, o.failure_code) for o in payment.orders] == [
        (PaymentOrderStatus.CAPTURE_FAILED, code),
        (PaymentOrderStatus.CAPTURED, None),
    ]
    assert payment.status is PaymentStatus.PARTIALLY_CAPTURED
    failed, captured = payment.events
    assert isinstance(failed, CaptureFailed)
    assert (failed.line_no, failed.code) == (0, code)
    assert isinstance(captured, PaymentCaptured)
    assert provider.performed[capture_key(event, 0)] == 1


def test_giving_up_on_a_request_still_in_flight_sends_it_again_and_gets_its_answer() -> None:
    # The last attempt's capture timed out while the provider was still working on it: it has
    # no record of it yet, and a moment later it captures. Failing the line now would charge the
    # shopper for a payment recorded as failed; the same request again gets that capture.
    event, provider = order_confirmed((700,)), FakeProvider()
    provider.slow(capture_key(event, 0))
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)
    assert payment.orders[0].status is PaymentOrderStatus.PENDING_CAPTURE
    assert provider.operations == {}  # still in flight: nothing to find

    assert give_up_captures(payment, provider) == []
    assert payment.orders[0].status is PaymentOrderStatus.CAPTURED
    assert payment.orders[0].capture_id == provider.operations[capture_key(event, 0)].id
    assert payment.status is PaymentStatus.CAPTURED
    [captured] = payment.events
    assert isinstance(captured, PaymentCaptured)
    assert [e.entry_id for e in payment.journal] == [
        f"capture:{payment.orders[0].payment_order_id}"
    ]
    assert provider.calls[capture_key(event, 0)] == 2  # once more, under the same key
    assert provider.performed[capture_key(event, 0)] == 1


def test_giving_up_adopts_what_the_provider_did_resends_the_rest_and_fails_only_refusals() -> None:
    event, provider = order_confirmed((700, 300, 200, 100)), FakeProvider()
    provider.unavailable_once(capture_key(event, 1), after_performing=True)  # it did line 1
    provider.unavailable_once(capture_key(event, 2))  # line 2 never reached it
    provider.unavailable_once(capture_key(event, 3))  # nor line 3, which it refuses when it does
    provider.refuse(capture_key(event, 3), code="amount_exceeds_authorization")
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)

    assert give_up_captures(payment, provider) == []
    assert [(o.status, o.failure_code) for o in payment.orders] == [
        (PaymentOrderStatus.CAPTURED, None),
        (PaymentOrderStatus.CAPTURED, None),
        (PaymentOrderStatus.CAPTURED, None),
        (PaymentOrderStatus.CAPTURE_FAILED, "amount_exceeds_authorization"),
    ]
    assert payment.status is PaymentStatus.PARTIALLY_CAPTURED
    failed, captured = payment.events
    assert isinstance(failed, CaptureFailed)
    assert (failed.line_no, failed.code) == (3, "amount_exceeds_authorization")
    assert isinstance(captured, PaymentCaptured)
    assert (captured.partial, captured.amount_minor) == (True, 1200)
    assert provider.calls[capture_key(event, 1)] == 1  # found, not sent again
    assert {n: provider.performed[capture_key(event, n)] for n in range(4)} == dict.fromkeys(
        range(4), 1
    )


def test_giving_up_while_the_provider_stays_unreachable_leaves_the_line_pending() -> None:
    event, provider = order_confirmed((700, 300)), FakeProvider()
    provider.unreachable(capture_key(event, 1))  # it answers questions, but no capture gets in
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)

    assert give_up_captures(payment, provider) == [payment.orders[1]]
    assert [o.status for o in payment.orders] == [
        PaymentOrderStatus.CAPTURED,
        PaymentOrderStatus.PENDING_CAPTURE,
    ]
    assert payment.status is PaymentStatus.CAPTURE_PENDING
    assert payment.events == []  # no CaptureFailed: it may still be captured
    assert provider.calls[capture_key(event, 1)] == 2


def test_giving_up_while_the_provider_cannot_be_asked_leaves_the_line_pending() -> None:
    event, provider = order_confirmed((700,)), FakeProvider()
    provider.unavailable_once(capture_key(event, 0), after_performing=True)
    payment = Payment.split(event)
    capture_seller_lines(payment, provider, ask_first=False)
    provider.down = True

    assert give_up_captures(payment, provider) == [payment.orders[0]]
    assert payment.orders[0].status is PaymentOrderStatus.PENDING_CAPTURE
    assert payment.events == []
