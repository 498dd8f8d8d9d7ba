"""Refunds without servers: what may be asked back of a payment, per seller line and in total,
and how the outcomes move the refund and the payment's status."""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING

import pytest
from bff_events import (
    accepted,
    capture_failed,
    captured_lines,
    confirmed,
    declined,
    refund_failed,
    refunded,
    succeeded,
)

from bff.domain.errors import (
    ImpossibleRefundTotals,
    InvalidRefund,
    PaymentNotRefundable,
    RefundExceedsCaptured,
    RefundLinesNotRequested,
    UnknownLine,
    UnknownRefund,
)
from bff.domain.refund import RefundStatus
from bff.domain.status import PaymentStatus
from payment_events.events import RefundLine, RefundRequested

if TYPE_CHECKING:
    from bff.domain.payment import Payment

S = PaymentStatus
R = RefundStatus


def captured_payment(amounts: list[int], captured: dict[int, int] | None = None) -> Payment:
    """A payment of one seller line per amount, captured in full unless `captured` says what
    each line captured (lines left out of it failed). It all happened in the last seconds, so
    what the test does next happens after it."""
    payment = accepted([(f"seller_{n}", amount) for n, amount in enumerate(amounts)])
    pid = payment.payment_id
    payment.record_authorization(succeeded(pid, seconds=-4, amount=sum(amounts)))
    payment.record_order_confirmation(confirmed(pid, seconds=-3))
    lines = dict(enumerate(amounts)) if captured is None else captured
    for line_no in sorted(set(range(len(amounts))) - set(lines)):
        payment.record_capture_failure(capture_failed(pid, seconds=-2, line_no=line_no))
    payment.record_capture(
        captured_lines(pid, lines, partial=len(lines) < len(amounts), seconds=-1)
    )
    payment.events.clear()
    return payment


def refund_id() -> str:
    return str(uuid.uuid4())


def test_a_refund_without_lines_asks_back_everything_captured_and_records_the_request() -> None:
    payment = captured_payment([1000, 250])
    rid = refund_id()

    refund = payment.request_refund(refund_id=rid, reason="order cancelled")

    assert (refund.refund_id, refund.status, refund.amount_minor) == (rid, R.REFUND_REQUESTED, 1250)
    assert refund.lines == (
        RefundLine(line_no=0, amount_minor=1000),
        RefundLine(line_no=1, amount_minor=250),
    )
    [requested] = payment.events
    assert isinstance(requested, RefundRequested)
    assert (requested.payment_id, requested.refund_id) == (payment.payment_id, rid)
    assert (requested.currency, requested.amount_minor) == ("EUR", 1250)
    assert requested.lines == refund.lines
    assert requested.reason == "order cancelled"
    assert payment.status is S.CAPTURED
    assert (payment.history[-1].event, payment.history[-1].status) == (
        "RefundRequested",
        "CAPTURED",
    )
    assert payment.refundable_minor == 0


def test_a_refund_asks_back_chosen_amounts_of_chosen_lines() -> None:
    payment = captured_payment([1000, 250, 400])

    refund = payment.request_refund(refund_id=refund_id(), lines=[(2, 100), (0, 500)])

    assert refund.amount_minor == 600
    assert [(x.line_no, x.amount_minor) for x in refund.lines] == [(0, 500), (2, 100)]
    assert [b.refundable_minor for b in payment.line_balances()] == [500, 250, 300]
    assert payment.refundable_minor == 1050


@pytest.mark.parametrize(
    ("lines", "error"),
    [
        ([(0, 1001)], RefundExceedsCaptured),
        ([(0, 1000), (1, 251)], RefundExceedsCaptured),
        ([(5, 1)], UnknownLine),
        ([(0, 1), (0, 1)], InvalidRefund),
        ([(0, 0)], InvalidRefund),
        ([(0, -5)], InvalidRefund),
        ([], InvalidRefund),
    ],
)
def test_a_refund_beyond_the_rules_is_refused_and_records_nothing(
    lines: list[tuple[int, int]], error: type[Exception]
) -> None:
    payment = captured_payment([1000, 250])
    history = len(payment.history)

    with pytest.raises(error):
        payment.request_refund(refund_id=refund_id(), lines=lines)

    assert payment.refunds == []
    assert payment.events == []
    assert len(payment.history) == history


def test_a_line_whose_capture_failed_has_nothing_to_refund() -> None:
    payment = captured_payment([1000, 250], captured={0: 1000})
    assert payment.status is S.PARTIALLY_CAPTURED

    with pytest.raises(RefundExceedsCaptured, match="Line 1"):
        payment.request_refund(refund_id=refund_id(), lines=[(1, 1)])
    whole = payment.request_refund(refund_id=refund_id())

    assert [(x.line_no, x.amount_minor) for x in whole.lines] == [(0, 1000)]


def test_refunds_still_open_hold_their_amount_and_the_rest_stays_refundable() -> None:
    payment = captured_payment([1000, 250])
    payment.request_refund(refund_id=refund_id(), lines=[(0, 600)])

    with pytest.raises(RefundExceedsCaptured, match="400 is refundable"):
        payment.request_refund(refund_id=refund_id(), lines=[(0, 401)])
    rest = payment.request_refund(refund_id=refund_id())

    assert [(x.line_no, x.amount_minor) for x in rest.lines] == [(0, 400), (1, 250)]
    with pytest.raises(RefundExceedsCaptured, match="Nothing"):
        payment.request_refund(refund_id=refund_id())


@pytest.mark.parametrize("how", ["processing", "declined", "order_confirmed", "refunded"])
def test_only_a_payment_with_captured_money_left_can_be_refunded(how: str) -> None:
    payment = captured_payment([1000])
    if how == "refunded":
        refund = payment.request_refund(refund_id=refund_id())
        payment.record_refund(
            refunded(
                payment.payment_id,
                refund.refund_id,
                {0: 1000},
                refunded_minor=1000,
                captured_minor=1000,
            )
        )
    else:
        payment = accepted([("seller_0", 1000)])
        if how == "declined":
            payment.record_decline(declined(payment.payment_id))
        if how == "order_confirmed":
            payment.record_order_confirmation(confirmed(payment.payment_id))

    with pytest.raises(PaymentNotRefundable) as refused:
        payment.request_refund(refund_id=refund_id())
    assert refused.value.code == "payment_not_refundable"


def test_a_paid_back_refund_makes_the_payment_partially_then_fully_refunded() -> None:
    payment = captured_payment([1000, 250])
    pid = payment.payment_id
    first = payment.request_refund(refund_id=refund_id(), lines=[(0, 400)])
    second = payment.request_refund(refund_id=refund_id())

    payment.record_refund(
        refunded(pid, first.refund_id, {0: 400}, refunded_minor=400, captured_minor=1250)
    )
    assert payment.status is S.PARTIALLY_REFUNDED
    assert (first.status, second.status) == (R.REFUNDED, R.REFUND_REQUESTED)
    assert payment.refunded_minor == 400
    assert [b.refunded_minor for b in payment.line_balances()] == [400, 0]

    payment.record_refund(
        refunded(pid, second.refund_id, {0: 600, 1: 250}, refunded_minor=1250, captured_minor=1250)
    )
    assert payment.status is S.REFUNDED
    assert payment.refunded_minor == payment.captured_minor == 1250
    assert payment.refundable_minor == 0
    assert [h.event for h in payment.history][-2:] == ["PaymentRefunded", "PaymentRefunded"]


def test_a_refund_paid_back_in_part_keeps_what_went_back_and_frees_the_refused_line() -> None:
    # The provider refused line 1 of a 50 + 50 refund: capture-consumer announces only line 0.
    payment = captured_payment([50, 50])
    pid = payment.payment_id
    refund = payment.request_refund(refund_id=refund_id())
    assert refund.amount_minor == 100

    payment.record_refund(
        refunded(pid, refund.refund_id, {0: 50}, refunded_minor=50, captured_minor=100)
    )

    assert (refund.status, refund.amount_minor) == (R.REFUNDED, 50)
    assert refund.lines == (RefundLine(line_no=0, amount_minor=50),)
    assert payment.status is S.PARTIALLY_REFUNDED
    assert payment.refunded_minor == 50
    assert [(b.refunded_minor, b.refundable_minor) for b in payment.line_balances()] == [
        (50, 0),
        (0, 50),
    ]
    assert payment.refundable_minor == 50
    again = payment.request_refund(refund_id=refund_id(), lines=[(1, 50)])
    assert again.lines == (RefundLine(line_no=1, amount_minor=50),)

    payment.record_refund(  # a repeat of the first outcome changes nothing
        refunded(pid, refund.refund_id, {0: 50}, refunded_minor=50, captured_minor=100)
    )
    assert (refund.amount_minor, payment.refundable_minor) == (50, 0)


@pytest.mark.parametrize(
    "paid_back",
    [{2: 100}, {0: 401}, {1: 100}, {}],
    ids=["a line of another payment", "more than asked", "a line not asked", "no line"],
)
def test_an_outcome_paying_back_what_the_refund_did_not_ask_is_refused(
    paid_back: dict[int, int],
) -> None:
    payment = captured_payment([1000, 250, 100])
    refund = payment.request_refund(refund_id=refund_id(), lines=[(0, 400)])

    with pytest.raises(RefundLinesNotRequested) as refused:
        payment.record_refund(
            refunded(
                payment.payment_id,
                refund.refund_id,
                paid_back,
                refunded_minor=400,
                captured_minor=1350,
            )
        )
    assert refused.value.code == "refund_lines_not_requested"
    assert (refund.status, refund.amount_minor, payment.refunded_minor) == (
        R.REFUND_REQUESTED,
        400,
        0,
    )
    assert refund.lines == (RefundLine(line_no=0, amount_minor=400),)


def test_an_outcome_whose_lines_do_not_add_up_to_its_amount_is_refused() -> None:
    payment = captured_payment([1000])
    refund = payment.request_refund(refund_id=refund_id(), lines=[(0, 400)])
    event = refunded(
        payment.payment_id, refund.refund_id, {0: 400}, refunded_minor=400, captured_minor=1000
    )

    with pytest.raises(RefundLinesNotRequested):
        payment.record_refund(dataclasses.replace(event, amount_minor=300))
    assert refund.status is R.REFUND_REQUESTED


def test_a_failed_refund_leaves_the_status_and_frees_its_amount_for_another_try() -> None:
    payment = captured_payment([1000])
    pid = payment.payment_id
    refund = payment.request_refund(refund_id=refund_id(), reason="damaged")

    payment.record_refund_failure(refund_failed(pid, refund.refund_id, 1000))

    assert payment.status is S.CAPTURED
    assert (refund.status, refund.reason) == (R.REFUND_FAILED, "damaged")
    assert (refund.failure_code, refund.failure_reason) == (
        "refund_declined",
        "the provider refused the refund",
    )
    assert payment.refundable_minor == 1000
    again = payment.request_refund(refund_id=refund_id())
    assert again.amount_minor == 1000


def test_a_late_outcome_after_the_first_changes_nothing() -> None:
    payment = captured_payment([1000])
    pid = payment.payment_id
    refund = payment.request_refund(refund_id=refund_id())
    paid_back = refunded(pid, refund.refund_id, {0: 1000}, refunded_minor=1000, captured_minor=1000)

    payment.record_refund(paid_back)
    payment.record_refund_failure(refund_failed(pid, refund.refund_id, 1000))
    payment.record_refund(paid_back)

    assert (refund.status, refund.failure_code) == (R.REFUNDED, None)
    assert payment.status is S.REFUNDED


def test_an_outcome_of_a_refund_never_requested_is_impossible() -> None:
    payment = captured_payment([1000])
    pid = payment.payment_id

    with pytest.raises(UnknownRefund):
        payment.record_refund(
            refunded(pid, refund_id(), {0: 10}, refunded_minor=10, captured_minor=1000)
        )
    with pytest.raises(UnknownRefund):
        payment.record_refund_failure(refund_failed(pid, refund_id(), 10))


@pytest.mark.parametrize(("refunded_minor", "captured_minor"), [(1001, 1000), (0, 1000)])
def test_an_outcome_with_impossible_totals_is_refused(
    refunded_minor: int, captured_minor: int
) -> None:
    payment = captured_payment([1000])
    refund = payment.request_refund(refund_id=refund_id())

    with pytest.raises(ImpossibleRefundTotals):
        payment.record_refund(
            refunded(
                payment.payment_id,
                refund.refund_id,
                {0: 1000},
                refunded_minor=refunded_minor,
                captured_minor=captured_minor,
            )
        )
    assert (refund.status, payment.refunded_minor) == (R.REFUND_REQUESTED, 0)
