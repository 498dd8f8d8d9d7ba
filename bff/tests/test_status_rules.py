"""The status read model's rules, without servers: forward by rank, terminal is final, every
event is kept in history in the order things happened."""

from __future__ import annotations

import pytest
from bff_events import (
    accepted,
    capture_failed,
    captured,
    captured_lines,
    confirmed,
    declined,
    order_failed,
    succeeded,
    voided,
)

from bff.domain.errors import LineNotInPayment
from bff.domain.payment import VOIDED_CODE
from bff.domain.status import TERMINAL, PaymentStatus, advance
from payment_events.events import PaymentInitiated

S = PaymentStatus


@pytest.mark.parametrize(
    ("current", "signalled", "after"),
    [
        (S.PROCESSING, S.AUTHORIZED, S.AUTHORIZED),
        (S.AUTHORIZED, S.ORDER_CONFIRMED, S.ORDER_CONFIRMED),
        (S.ORDER_CONFIRMED, S.CAPTURED, S.CAPTURED),
        (S.PROCESSING, S.DECLINED, S.DECLINED),
        (S.AUTHORIZED, S.FAILED, S.FAILED),
        (S.PROCESSING, S.ORDER_CONFIRMED, S.ORDER_CONFIRMED),
        (S.ORDER_CONFIRMED, S.AUTHORIZED, S.ORDER_CONFIRMED),
        (S.AUTHORIZED, None, S.AUTHORIZED),
    ],
)
def test_the_status_moves_only_forward(
    current: PaymentStatus, signalled: PaymentStatus | None, after: PaymentStatus
) -> None:
    assert advance(current, signalled) is after


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
@pytest.mark.parametrize("signalled", list(PaymentStatus))
def test_a_terminal_status_is_never_left(terminal: PaymentStatus, signalled: PaymentStatus) -> None:
    assert advance(terminal, signalled) is terminal


def test_accepting_records_payment_initiated_with_numbered_lines_and_their_sum() -> None:
    payment = accepted([("seller_a", 1000), ("seller_b", 250), ("seller_a", 4999)])

    [initiated] = payment.events
    assert isinstance(initiated, PaymentInitiated)
    assert initiated.payment_id == payment.payment_id
    assert [(x.line_no, x.seller_id, x.amount_minor) for x in initiated.lines] == [
        (0, "seller_a", 1000),
        (1, "seller_b", 250),
        (2, "seller_a", 4999),
    ]
    assert initiated.amount_minor == payment.amount_minor == 6249
    assert payment.status is S.PROCESSING
    assert [(h.status, h.event) for h in payment.history] == [(S.PROCESSING, "PaymentInitiated")]


def test_the_happy_path_ends_captured_with_every_fact() -> None:
    payment = accepted()
    pid = payment.payment_id
    payment.record_authorization(succeeded(pid))
    payment.record_order_confirmation(confirmed(pid))
    payment.record_capture(captured(pid))

    assert payment.status is S.CAPTURED
    assert (payment.authorized_minor, payment.captured_minor) == (1500, 1500)
    assert payment.order_id == "ord_1"
    assert payment.sso_token == "sso.token.value"
    assert payment.redirect_url is not None
    assert [h.status for h in payment.history] == [
        S.PROCESSING,
        S.AUTHORIZED,
        S.ORDER_CONFIRMED,
        S.CAPTURED,
    ]
    assert payment.updated_at == payment.history[-1].at


def test_events_arriving_out_of_order_keep_the_furthest_status_and_every_fact() -> None:
    payment = accepted()
    pid = payment.payment_id
    payment.record_capture(captured(pid, seconds=3))
    payment.record_authorization(succeeded(pid, seconds=1))
    payment.record_order_confirmation(confirmed(pid, seconds=2))

    assert payment.status is S.CAPTURED
    assert payment.authorized_minor == 1500
    assert payment.sso_token == "sso.token.value"
    assert [h.event for h in payment.history] == [
        "PaymentInitiated",
        "PaymentSucceeded",
        "OrderConfirmed",
        "PaymentCaptured",
    ]


def test_a_decline_ends_declined_with_its_code_and_reason() -> None:
    payment = accepted()
    payment.record_decline(declined(payment.payment_id))

    assert payment.status is S.DECLINED
    assert (payment.failure_code, payment.failure_reason) == (
        "card_declined",
        "Your card was declined.",
    )


def test_a_refused_order_fails_and_the_void_only_adds_history() -> None:
    payment = accepted()
    pid = payment.payment_id
    payment.record_authorization(succeeded(pid))
    payment.record_order_failure(order_failed(pid))
    payment.record_void(voided(pid))

    assert payment.status is S.FAILED
    assert payment.failure_code == "customer_blocked"
    assert [(h.status, h.event) for h in payment.history][-2:] == [
        (S.FAILED, "OrderFailed"),
        (S.FAILED, "PaymentVoided"),
    ]


def test_a_void_that_overtakes_the_order_failure_fails_the_payment_and_the_cause_wins() -> None:
    payment = accepted()
    pid = payment.payment_id
    payment.record_authorization(succeeded(pid))
    payment.record_void(voided(pid, seconds=3))
    assert (payment.status, payment.failure_code) == (S.FAILED, VOIDED_CODE)

    payment.record_order_failure(order_failed(pid, seconds=2))
    assert (payment.status, payment.failure_code) == (S.FAILED, "customer_blocked")
    assert [h.event for h in payment.history][-2:] == ["OrderFailed", "PaymentVoided"]


def test_a_capture_failure_while_other_lines_are_pending_is_history_and_moves_nothing() -> None:
    payment = accepted([("seller_a", 1500), ("seller_b", 500)])
    pid = payment.payment_id
    payment.record_authorization(succeeded(pid))
    payment.record_order_confirmation(confirmed(pid))
    payment.record_capture_failure(capture_failed(pid, line_no=0))

    assert payment.status is S.ORDER_CONFIRMED
    assert (payment.history[-1].status, payment.history[-1].event) == (
        S.ORDER_CONFIRMED,
        "CaptureFailed",
    )
    assert payment.captured_minor == 0
    assert [x.capture_status for x in payment.lines] == ["CAPTURE_FAILED", "PENDING"]


def test_a_late_success_after_a_decline_does_not_leave_declined() -> None:
    payment = accepted()
    pid = payment.payment_id
    payment.record_decline(declined(pid, seconds=2))
    payment.record_authorization(succeeded(pid, seconds=1))

    assert payment.status is S.DECLINED


def test_a_late_smaller_capture_total_does_not_lower_the_captured_amount() -> None:
    payment = accepted()
    pid = payment.payment_id
    payment.record_capture(captured(pid, seconds=4, amount=1500))
    payment.record_capture(captured(pid, seconds=3, amount=500))

    assert payment.captured_minor == 1500


def test_a_partial_capture_is_partially_captured_with_each_lines_capture() -> None:
    payment = accepted([("seller_a", 1500), ("seller_b", 500), ("seller_c", 200)])
    pid = payment.payment_id
    payment.record_order_confirmation(confirmed(pid))
    payment.record_capture(captured_lines(pid, {0: 1500, 2: 200}, partial=True))

    assert payment.status is S.PARTIALLY_CAPTURED
    assert payment.captured_minor == 1700
    assert [(x.capture_status, x.captured_minor) for x in payment.lines] == [
        ("CAPTURED", 1500),
        ("PENDING", 0),
        ("CAPTURED", 200),
    ]

    payment.record_capture_failure(capture_failed(pid, line_no=1, seconds=2))
    assert payment.status is S.PARTIALLY_CAPTURED
    assert payment.lines[1].capture_status == "CAPTURE_FAILED"


def test_every_line_settled_with_one_failed_is_partially_captured_whatever_the_order() -> None:
    payment = accepted([("seller_a", 1500), ("seller_b", 500)])
    pid = payment.payment_id
    payment.record_capture_failure(capture_failed(pid, line_no=1, seconds=2))
    assert payment.status is S.PROCESSING
    payment.record_capture(captured_lines(pid, {0: 1500}))

    assert payment.status is S.PARTIALLY_CAPTURED


def test_a_capture_failure_on_every_line_fails_the_payment_with_its_reason() -> None:
    payment = accepted([("seller_a", 1500), ("seller_b", 500)])
    pid = payment.payment_id
    payment.record_order_confirmation(confirmed(pid))
    payment.record_capture_failure(capture_failed(pid, line_no=0))
    payment.record_capture_failure(capture_failed(pid, line_no=1))

    assert payment.status is S.FAILED
    assert (payment.failure_code, payment.failure_reason) == (
        "capture_declined",
        "the provider refused the capture",
    )
    assert payment.captured_minor == 0


def test_a_capture_of_a_line_the_payment_does_not_have_is_impossible() -> None:
    payment = accepted()
    with pytest.raises(LineNotInPayment):
        payment.record_capture(captured_lines(payment.payment_id, {0: 1500, 7: 1}))
