"""Refunds inside the payment aggregate, in memory: what may be refunded, the states, the events
and the journal entries."""

from __future__ import annotations

import dataclasses

import pytest
from capture_random_events import order_confirmed, refund_requested

from capture.domain.errors import (
    InvalidRefund,
    InvalidTransition,
    LineNotCaptured,
    PaymentNotCaptured,
    RefundExceedsCaptured,
    RefundIdReused,
    UnknownRefundLine,
)
from capture.domain.ledger import EntryKind
from capture.domain.model import Payment
from capture.domain.states import PaymentStatus, RefundStatus, SellerRefundStatus
from payment_events.events import OrderConfirmed, PaymentRefunded, RefundFailed, RefundLine


def captured_payment(
    amounts: tuple[int, ...] = (700, 300),
) -> tuple[Payment, OrderConfirmed]:
    confirmed = order_confirmed(amounts)
    payment = Payment.split(confirmed)
    for order in payment.orders:
        payment.capture_line(order.line_no, f"cap_{order.line_no}")
    payment.events.clear()
    payment.journal.clear()
    return payment, confirmed


def test_a_refund_opens_one_seller_refund_per_line_and_moves_nothing_yet() -> None:
    payment, confirmed = captured_payment()
    refund = payment.request_refund(refund_requested(confirmed, {0: 200, 1: 300}))
    assert refund.status is RefundStatus.REQUESTED
    assert [(line.line_no, line.seller_id, line.amount_minor) for line in refund.lines] == [
        (0, "seller_0", 200),
        (1, "seller_1", 300),
    ]
    assert refund.lines[1].payment_order_id == payment.orders[1].payment_order_id
    assert refund.lines[1].idempotency_key_refund == (
        f"{payment.payment_id}:refund:{refund.refund_id}:1"
    )
    assert payment.refunded_minor == 0
    assert payment.events == payment.journal == []


def test_every_line_refunded_announces_the_refund_with_the_running_totals() -> None:
    payment, confirmed = captured_payment()
    refund = payment.request_refund(refund_requested(confirmed, {0: 200, 1: 300}))
    payment.refund_line(refund.refund_id, 0, "re_a")
    assert payment.events == []  # one line still open
    payment.refund_line(refund.refund_id, 1, "re_b")

    assert refund.status is RefundStatus.REFUNDED
    assert payment.status is PaymentStatus.PARTIALLY_REFUNDED
    assert (payment.refunded_minor, [o.refunded_minor for o in payment.orders]) == (500, [200, 300])
    [refunded] = payment.events
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.refund_id, refunded.amount_minor) == (refund.refund_id, 500)
    assert (refunded.refunded_minor, refunded.captured_minor) == (500, 1000)
    assert [(line.line_no, line.provider_refund_id) for line in refunded.lines] == [
        (0, "re_a"),
        (1, "re_b"),
    ]


def test_refunding_everything_captured_makes_the_payment_refunded() -> None:
    payment, confirmed = captured_payment()
    first = payment.request_refund(refund_requested(confirmed, {0: 700}))
    payment.refund_line(first.refund_id, 0, "re_a")
    second = payment.request_refund(refund_requested(confirmed, {1: 300}))
    payment.refund_line(second.refund_id, 1, "re_b")
    assert payment.status is PaymentStatus.REFUNDED
    assert [e.refunded_minor for e in payment.events if isinstance(e, PaymentRefunded)] == [
        700,
        1000,
    ]


def test_a_partially_captured_payment_is_refunded_up_to_what_was_captured() -> None:
    confirmed = order_confirmed((700, 300))
    payment = Payment.split(confirmed)
    payment.capture_line(0, "cap_0")
    payment.fail_line(1, "x", "x")
    with pytest.raises(LineNotCaptured):
        payment.request_refund(refund_requested(confirmed, {1: 300}))
    refund = payment.request_refund(refund_requested(confirmed, {0: 700}))
    payment.refund_line(refund.refund_id, 0, "re_a")
    assert payment.status is PaymentStatus.REFUNDED


@pytest.mark.parametrize(
    ("amounts", "error"),
    [
        ({0: 701}, RefundExceedsCaptured),
        ({0: 0}, InvalidRefund),
        ({}, InvalidRefund),
        ({7: 100}, UnknownRefundLine),
    ],
    ids=["more than the line", "nothing", "no lines", "a line the payment has not"],
)
def test_a_refund_the_lines_cannot_take_is_refused_and_changes_nothing(
    amounts: dict[int, int], error: type[Exception]
) -> None:
    payment, confirmed = captured_payment()
    with pytest.raises(error):
        payment.request_refund(refund_requested(confirmed, amounts))
    assert payment.refunds == []


def test_refunds_still_in_flight_count_against_what_is_left() -> None:
    payment, confirmed = captured_payment()
    payment.request_refund(refund_requested(confirmed, {0: 500}))  # not confirmed yet
    with pytest.raises(RefundExceedsCaptured):
        payment.request_refund(refund_requested(confirmed, {0: 201}))
    payment.request_refund(refund_requested(confirmed, {0: 200}))


def test_a_refund_that_does_not_add_up_or_is_in_another_currency_is_invalid() -> None:
    payment, confirmed = captured_payment()
    requested = refund_requested(confirmed, {0: 100})
    with pytest.raises(InvalidRefund):
        payment.request_refund(dataclasses.replace(requested, amount_minor=150))
    with pytest.raises(InvalidRefund):
        payment.request_refund(dataclasses.replace(requested, currency="USD"))
    twice = (RefundLine(line_no=0, amount_minor=50),) * 2
    with pytest.raises(InvalidRefund):
        payment.request_refund(dataclasses.replace(requested, lines=twice))


def test_a_payment_not_captured_yet_refuses_refunds() -> None:
    confirmed = order_confirmed((700, 300))
    payment = Payment.split(confirmed)
    payment.capture_line(0, "cap_0")  # line 1 still open: the payment is CAPTURE_PENDING
    with pytest.raises(PaymentNotCaptured):
        payment.request_refund(refund_requested(confirmed, {0: 100}))


def test_a_refused_refund_is_recorded_failed_and_announced() -> None:
    payment, confirmed = captured_payment()
    requested = refund_requested(confirmed, {0: 5000})
    with pytest.raises(RefundExceedsCaptured) as refused:
        payment.request_refund(requested)
    refund = payment.refuse_refund(requested, refused.value)
    assert (refund.status, refund.failure_code) == (RefundStatus.FAILED, "refund_exceeds_captured")
    [failed] = payment.events
    assert isinstance(failed, RefundFailed)
    assert (failed.refund_id, failed.code, failed.amount_minor) == (
        requested.refund_id,
        "refund_exceeds_captured",
        5000,
    )
    with pytest.raises(RefundIdReused):
        payment.request_refund(requested)


def test_a_refund_every_line_of_which_the_provider_refused_fails() -> None:
    payment, confirmed = captured_payment()
    refund = payment.request_refund(refund_requested(confirmed, {0: 100, 1: 100}))
    payment.fail_refund_line(refund.refund_id, 0, "refund_exceeds_capture", "no")
    payment.fail_refund_line(refund.refund_id, 1, "refund_exceeds_capture", "no")
    assert refund.status is RefundStatus.FAILED
    [failed] = payment.events
    assert isinstance(failed, RefundFailed)
    assert failed.code == "refund_exceeds_capture"
    assert payment.status is PaymentStatus.CAPTURED
    assert payment.journal == []


def test_a_refund_with_some_lines_refused_announces_only_the_money_that_went_back() -> None:
    payment, confirmed = captured_payment()
    refund = payment.request_refund(refund_requested(confirmed, {0: 100, 1: 100}))
    payment.pend_refund_line(refund.refund_id, 0)
    payment.fail_refund_line(refund.refund_id, 1, "refund_exceeds_capture", "no")
    assert payment.events == []  # line 0 is still in doubt
    payment.refund_line(refund.refund_id, 0, "re_a")
    assert refund.status is RefundStatus.REFUNDED
    [refunded] = payment.events
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.amount_minor, [line.line_no for line in refunded.lines]) == (100, [0])


def test_each_refunded_line_posts_the_reverse_of_its_capture() -> None:
    payment, confirmed = captured_payment()
    refund = payment.request_refund(refund_requested(confirmed, {1: 120}))
    payment.refund_line(refund.refund_id, 1, "re_a")
    [entry] = payment.journal
    assert (entry.entry_id, entry.kind) == (f"refund:{refund.refund_id}:1", EntryKind.REFUND)
    assert {(p.account, p.amount_minor) for p in entry.postings} == {
        ("psp_receivable", 120),
        ("seller:seller_1", -120),
    }


def test_settled_seller_refunds_and_refunds_absorb() -> None:
    payment, confirmed = captured_payment()
    refund = payment.request_refund(refund_requested(confirmed, {0: 100}))
    payment.refund_line(refund.refund_id, 0, "re_a")
    with pytest.raises(InvalidTransition):
        payment.refund_line(refund.refund_id, 0, "re_again")
    with pytest.raises(InvalidTransition):
        payment.fail_refund_line(refund.refund_id, 0, "late", "late")
    with pytest.raises(InvalidTransition):
        payment.pend_refund_line(refund.refund_id, 0)
    assert refund.lines[0].status is SellerRefundStatus.REFUNDED
    assert payment.refunded_minor == 100
