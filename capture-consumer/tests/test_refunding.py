"""Refunding seller lines at a fake provider: no servers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from capture_fakes import FakeProvider
from capture_random_events import order_confirmed, refund_key, refund_requested

from capture.domain.model import Payment
from capture.domain.states import PaymentStatus, RefundStatus, SellerRefundStatus
from capture.seller_lines import capture_seller_lines, give_up_refund_lines, refund_seller_lines
from payment_events.events import PaymentRefunded, RefundFailed

if TYPE_CHECKING:
    from payment_events.events import OrderConfirmed


def captured(
    provider: FakeProvider, amounts: tuple[int, ...] = (700, 300)
) -> tuple[Payment, OrderConfirmed]:
    confirmed = order_confirmed(amounts)
    payment = Payment.split(confirmed)
    capture_seller_lines(payment, provider, ask_first=False)
    assert payment.status is PaymentStatus.CAPTURED
    payment.events.clear()
    return payment, confirmed


def test_each_line_is_refunded_from_its_own_capture_under_its_own_key() -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200, 1: 300})
    refund = payment.request_refund(requested)
    refund_seller_lines(payment, refund, provider, ask_first=False)

    assert refund.status is RefundStatus.REFUNDED
    for line_no, amount in ((0, 200), (1, 300)):
        done = provider.operations[refund_key(requested, line_no)]
        assert (done.kind, done.capture_id) == ("refund", payment.orders[line_no].capture_id)
        assert (done.amount_minor, done.reference) == (amount, f"{requested.refund_id}:{line_no}")
    [refunded] = payment.events
    assert isinstance(refunded, PaymentRefunded)
    assert {line.provider_refund_id for line in refunded.lines} == {
        provider.operations[refund_key(requested, n)].id for n in (0, 1)
    }


def test_a_line_without_an_answer_is_pending_then_settled_by_asking() -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200, 1: 300})
    provider.unavailable_once(refund_key(requested, 1), after_performing=True)
    refund = payment.request_refund(requested)
    refund_seller_lines(payment, refund, provider, ask_first=False)
    assert [line.status for line in refund.lines] == [
        SellerRefundStatus.REFUNDED,
        SellerRefundStatus.PENDING_REFUND,
    ]
    assert payment.events == []

    refund_seller_lines(payment, refund, provider, ask_first=True)
    assert refund.status is RefundStatus.REFUNDED
    assert provider.calls[refund_key(requested, 1)] == 1
    assert provider.performed[refund_key(requested, 1)] == 1


def test_a_line_the_provider_refuses_fails_and_the_rest_still_goes_back() -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200, 1: 300})
    provider.refuse(refund_key(requested, 0), code="refund_exceeds_capture")
    refund = payment.request_refund(requested)
    refund_seller_lines(payment, refund, provider, ask_first=False)

    assert refund.status is RefundStatus.REFUNDED
    assert refund.lines[0].failure_code == "refund_exceeds_capture"
    [refunded] = payment.events
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.amount_minor, refunded.refunded_minor) == (300, 300)


@pytest.mark.parametrize("ask_first", [False, True], ids=["answered", "asked"])
def test_a_refund_the_provider_reports_failed_fails_the_line_with_that_code(
    ask_first: bool,
) -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200, 1: 300})
    provider.perform_with_status(refund_key(requested, 0), "failed", "charge_disputed")
    refund = payment.request_refund(requested)
    if ask_first:  # an earlier try reached the provider; this one learns of it by asking
        provider.unavailable_once(refund_key(requested, 0), after_performing=True)
        refund_seller_lines(payment, refund, provider, ask_first=False)
        assert refund.lines[0].status is SellerRefundStatus.PENDING_REFUND
    refund_seller_lines(payment, refund, provider, ask_first=ask_first)

    # Its answer to a refund says only the status; its ledger may say why, too.
    code = "charge_disputed" if ask_first else "failed"
    assert [(line.status, line.failure_code) for line in refund.lines] == [
        (SellerRefundStatus.REFUND_FAILED, code),
        (SellerRefundStatus.REFUNDED, None),
    ]
    assert refund.status is RefundStatus.REFUNDED
    [refunded] = payment.events
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.amount_minor, [x.line_no for x in refunded.lines]) == (300, [1])
    assert payment.refunded_minor == 300


def test_a_refund_every_line_of_which_the_provider_reports_failed_fails() -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200})
    provider.perform_with_status(refund_key(requested, 0), "canceled")
    refund = payment.request_refund(requested)
    refund_seller_lines(payment, refund, provider, ask_first=False)

    assert (refund.status, refund.failure_code) == (RefundStatus.FAILED, "canceled")
    [failed] = payment.events
    assert isinstance(failed, RefundFailed)
    assert payment.refunded_minor == 0


def test_giving_up_on_a_refund_still_in_flight_sends_it_again_and_gets_its_answer() -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200})
    provider.slow(refund_key(requested, 0))  # the provider refunds it after the client gave up
    refund = payment.request_refund(requested)
    refund_seller_lines(payment, refund, provider, ask_first=False)
    assert provider.operations.get(refund_key(requested, 0)) is None

    assert give_up_refund_lines(payment, refund, provider) == []
    assert refund.status is RefundStatus.REFUNDED
    assert payment.refunded_minor == 200
    [refunded] = payment.events
    assert isinstance(refunded, PaymentRefunded)
    assert refunded.amount_minor == 200
    assert provider.calls[refund_key(requested, 0)] == 2
    assert provider.performed[refund_key(requested, 0)] == 1


def test_giving_up_fails_a_refund_only_when_the_provider_refuses_every_line() -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200, 1: 300})
    for n in (0, 1):
        provider.unavailable_once(refund_key(requested, n))  # never reached it
        provider.refuse(refund_key(requested, n), code="capture_too_old")  # refused when it does
    refund = payment.request_refund(requested)
    refund_seller_lines(payment, refund, provider, ask_first=False)

    assert give_up_refund_lines(payment, refund, provider) == []
    assert refund.status is RefundStatus.FAILED
    [failed] = payment.events
    assert isinstance(failed, RefundFailed)
    assert (failed.code, failed.amount_minor) == ("capture_too_old", 500)
    assert payment.refunded_minor == 0


def test_giving_up_on_a_refund_that_moved_some_money_completes_it_instead() -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200, 1: 300})
    provider.unavailable_once(refund_key(requested, 0), after_performing=True)  # it went back
    provider.unavailable_once(refund_key(requested, 1))  # never reached the provider
    refund = payment.request_refund(requested)
    refund_seller_lines(payment, refund, provider, ask_first=False)

    assert give_up_refund_lines(payment, refund, provider) == []
    assert refund.status is RefundStatus.REFUNDED
    assert payment.refunded_minor == 500
    [refunded] = payment.events
    assert isinstance(refunded, PaymentRefunded)
    assert refunded.amount_minor == 500


def test_giving_up_while_the_provider_stays_unreachable_fails_nothing() -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200})
    provider.unreachable(refund_key(requested, 0))  # it answers questions, no refund gets in
    refund = payment.request_refund(requested)
    refund_seller_lines(payment, refund, provider, ask_first=False)

    assert give_up_refund_lines(payment, refund, provider) == [refund.lines[0]]
    assert refund.status is RefundStatus.REQUESTED
    assert [line.status for line in refund.lines] == [SellerRefundStatus.PENDING_REFUND]
    assert payment.events == []  # no RefundFailed: it may still go back
    assert provider.calls[refund_key(requested, 0)] == 2


def test_giving_up_while_a_line_is_in_doubt_fails_nothing() -> None:
    provider = FakeProvider()
    payment, confirmed = captured(provider)
    requested = refund_requested(confirmed, {0: 200, 1: 300})
    provider.unavailable_once(refund_key(requested, 0))
    provider.perform_with_status(refund_key(requested, 1), "pending")  # the provider cannot say
    refund = payment.request_refund(requested)
    refund_seller_lines(payment, refund, provider, ask_first=False)

    assert give_up_refund_lines(payment, refund, provider) == [refund.lines[1]]
    assert refund.status is RefundStatus.REQUESTED
    assert [line.status for line in refund.lines] == [
        SellerRefundStatus.REFUNDED,
        SellerRefundStatus.PENDING_REFUND,
    ]
    assert payment.events == []
