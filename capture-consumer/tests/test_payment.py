"""The payment aggregate, in memory: the split, the states and the invariants."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
from capture_random_events import order_confirmed

from capture.domain.errors import (
    CaptureExceedsAuthorization,
    InvalidSplit,
    InvalidTransition,
    LineAlreadyCaptured,
)
from capture.domain.ledger import EntryKind
from capture.domain.model import Payment
from capture.domain.payment_order import PAYMENT_ORDER_NAMESPACE, PaymentOrder
from capture.domain.states import PaymentOrderStatus, PaymentStatus
from payment_events.events import CaptureFailed, PaymentCaptured, SellerLine


def test_a_payment_is_split_into_one_payment_order_per_seller_line() -> None:
    event = order_confirmed((1000, 250, 4999))
    payment = Payment.split(event)
    assert payment.status is PaymentStatus.CAPTURE_PENDING
    assert [(o.line_no, o.seller_id, o.amount_minor) for o in payment.orders] == [
        (0, "seller_0", 1000),
        (1, "seller_1", 250),
        (2, "seller_2", 4999),
    ]
    assert {o.status for o in payment.orders} == {PaymentOrderStatus.CAPTURE_REQUESTED}
    assert payment.events == []


def test_payment_order_ids_and_capture_keys_are_the_same_on_every_attempt() -> None:
    event = order_confirmed((700, 300))
    first, again = Payment.split(event), Payment.split(event)
    assert [o.payment_order_id for o in first.orders] == [o.payment_order_id for o in again.orders]
    assert first.orders[1].payment_order_id == str(
        uuid.uuid5(PAYMENT_ORDER_NAMESPACE, f"{event.payment_id}:1")
    )
    assert first.orders[1].idempotency_key_capture == f"{event.payment_id}:capture:1"


def test_every_line_captured_makes_the_payment_captured_and_announced() -> None:
    payment = Payment.split(order_confirmed((700, 300)))
    payment.capture_line(0, "cap_a")
    assert payment.events == []  # one line still to capture: nothing to announce yet
    payment.capture_line(1, "cap_b")
    assert payment.status is PaymentStatus.CAPTURED
    [captured] = payment.events
    assert isinstance(captured, PaymentCaptured)
    assert captured.amount_minor == payment.captured_minor == 1000
    assert [(line.line_no, line.capture_id) for line in captured.lines] == [
        (0, "cap_a"),
        (1, "cap_b"),
    ]


def test_a_failed_line_beside_captured_ones_makes_the_payment_partially_captured() -> None:
    payment = Payment.split(order_confirmed((700, 300)))
    payment.capture_line(0, "cap_a")
    payment.fail_line(1, "authorization_not_capturable", "voided")
    assert payment.status is PaymentStatus.PARTIALLY_CAPTURED
    assert payment.captured_minor == 700
    failed, captured = payment.events
    assert isinstance(failed, CaptureFailed)
    assert (failed.line_no, failed.amount_minor, failed.code) == (
        1,
        300,
        "authorization_not_capturable",
    )
    assert isinstance(captured, PaymentCaptured)
    assert captured.partial
    assert captured.amount_minor == 700
    assert [(line.line_no, line.capture_id) for line in captured.lines] == [(0, "cap_a")]


def test_a_line_whose_answer_is_unknown_waits_pending_and_settles_later() -> None:
    payment = Payment.split(order_confirmed((700, 300)))
    payment.capture_line(0, "cap_a")
    payment.pend_line(1)
    payment.pend_line(1)  # asked again, still unknown: nothing moves
    assert payment.orders[1].status is PaymentOrderStatus.PENDING_CAPTURE
    assert payment.status is PaymentStatus.CAPTURE_PENDING
    assert payment.pending_lines() == [payment.orders[1]]
    assert payment.events == []

    payment.capture_line(1, "cap_b")
    assert payment.status is PaymentStatus.CAPTURED
    [captured] = payment.events
    assert isinstance(captured, PaymentCaptured)
    assert not captured.partial


def test_a_settled_line_cannot_go_back_to_pending() -> None:
    payment = Payment.split(order_confirmed((700, 300)))
    payment.capture_line(0, "cap_a")
    payment.fail_line(1, "x", "x")
    for line_no in (0, 1):
        with pytest.raises(InvalidTransition):
            payment.pend_line(line_no)


def test_each_captured_line_posts_one_balanced_entry_crediting_its_seller() -> None:
    payment = Payment.split(order_confirmed((700, 300)))
    payment.capture_line(0, "cap_a")
    payment.fail_line(1, "x", "x")
    [entry] = payment.journal
    assert entry.entry_id == f"capture:{payment.orders[0].payment_order_id}"
    assert (entry.kind, entry.currency) == (EntryKind.CAPTURE, "EUR")
    assert {(p.account, p.amount_minor) for p in entry.postings} == {
        ("psp_receivable", -700),
        ("seller:seller_0", 700),
    }


def test_every_line_failed_makes_the_payment_capture_failed() -> None:
    payment = Payment.split(order_confirmed((700, 300)))
    payment.fail_line(0, "x", "x")
    payment.fail_line(1, "x", "x")
    assert payment.status is PaymentStatus.CAPTURE_FAILED
    assert payment.captured_minor == 0
    assert [type(e) for e in payment.events] == [CaptureFailed, CaptureFailed]


def test_lines_beyond_the_authorized_amount_are_refused_before_any_capture() -> None:
    with pytest.raises(CaptureExceedsAuthorization):
        Payment.split(order_confirmed((700, 400), authorized_minor=1000))


def test_a_capture_beyond_the_authorized_amount_is_refused_and_changes_nothing() -> None:
    # Built by hand: split() already refuses such lines, the capture must refuse them too.
    payment_id = str(uuid.uuid4())
    payment = Payment(
        payment_id=payment_id,
        order_id="ord_1",
        currency="EUR",
        authorization_id="auth_1",
        authorized_minor=1000,
        orders=[
            PaymentOrder(f"po_{n}", payment_id, n, "s1", amount)
            for n, amount in enumerate((700, 400))
        ],
    )
    payment.capture_line(0, "cap_a")
    with pytest.raises(CaptureExceedsAuthorization):
        payment.capture_line(1, "cap_b")
    assert payment.orders[1].status is PaymentOrderStatus.CAPTURE_REQUESTED
    assert payment.captured_minor == 700


def test_a_line_is_captured_at_most_once() -> None:
    payment = Payment.split(order_confirmed((700, 300)))
    payment.capture_line(0, "cap_a")
    with pytest.raises(LineAlreadyCaptured):
        payment.capture_line(0, "cap_again")
    assert payment.orders[0].capture_id == "cap_a"
    assert payment.captured_minor == 700


def test_settled_lines_and_payments_absorb() -> None:
    payment = Payment.split(order_confirmed((700, 300)))
    payment.fail_line(0, "x", "x")
    with pytest.raises(InvalidTransition):
        payment.capture_line(0, "cap_late")
    payment.capture_line(1, "cap_b")
    with pytest.raises(LineAlreadyCaptured):
        payment.capture_line(1, "cap_b")
    with pytest.raises(InvalidTransition):
        payment.fail_line(1, "late", "late")
    assert payment.status is PaymentStatus.PARTIALLY_CAPTURED


@pytest.mark.parametrize(
    "lines",
    [
        (),
        (SellerLine(line_no=0, seller_id="s", amount_minor=5),) * 2,
        (SellerLine(line_no=0, seller_id="s", amount_minor=0),),
    ],
    ids=["no lines", "a line twice", "a line of nothing"],
)
def test_a_confirmation_that_cannot_be_split_is_refused(lines: tuple[SellerLine, ...]) -> None:
    with pytest.raises(InvalidSplit):
        Payment.split(dataclasses.replace(order_confirmed(), lines=lines))
