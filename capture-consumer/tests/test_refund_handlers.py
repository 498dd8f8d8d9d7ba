"""Refunding through the real unit of work, migrations and Postgres, delivered as the runtime
delivers."""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING

import pytest
from capture_delivery import (
    account_balances,
    deliver,
    give_up,
    payment_order_rows,
    payment_row,
    published,
    refund_line_rows,
)
from capture_random_events import capture_key, order_confirmed, refund_key, refund_requested

from capture.domain.errors import RefundIdReused
from paykit.provider import ProviderUnavailable
from payment_events.events import PaymentRefunded, RefundFailed

if TYPE_CHECKING:
    from capture_fakes import FakeProvider

    from capture.bootstrap import CaptureService
    from payment_events.events import Event, OrderConfirmed

pytestmark = pytest.mark.integration


def captured(service: CaptureService, amounts: tuple[int, ...] = (700, 300)) -> OrderConfirmed:
    confirmed = order_confirmed(amounts)
    assert deliver(service, confirmed) == "handled"
    return confirmed


def published_after_capture(service: CaptureService) -> list[Event]:
    return published(service)[1:]  # the first is the PaymentCaptured


def test_a_refund_gives_each_line_back_posts_the_reverse_and_is_announced(
    service: CaptureService, provider: FakeProvider
) -> None:
    confirmed = captured(service)
    refund = refund_requested(confirmed, {0: 200, 1: 300})
    assert deliver(service, refund) == "handled"

    assert [(r.status, r.amount_minor) for r in refund_line_rows(service, refund.refund_id)] == [
        ("REFUNDED", 200),
        ("REFUNDED", 300),
    ]
    payment = payment_row(service, confirmed.payment_id)
    assert (payment.status, payment.refunded_minor) == ("PARTIALLY_REFUNDED", 500)
    assert [o.refunded_minor for o in payment_order_rows(service, confirmed.payment_id)] == [
        200,
        300,
    ]
    [refunded] = published_after_capture(service)
    assert isinstance(refunded, PaymentRefunded)
    assert (refunded.refund_id, refunded.amount_minor) == (refund.refund_id, 500)
    assert (refunded.refunded_minor, refunded.captured_minor) == (500, 1000)
    assert account_balances(service) == {
        "psp_receivable": -500,
        "seller:seller_0": 500,
        "seller:seller_1": 0,
    }
    assert provider.performed == {
        **{capture_key(confirmed, n): 1 for n in (0, 1)},
        **{refund_key(refund, n): 1 for n in (0, 1)},
    }


def test_refunds_add_up_to_a_fully_refunded_payment(
    service: CaptureService, provider: FakeProvider
) -> None:
    confirmed = captured(service)
    deliver(service, refund_requested(confirmed, {0: 700}))
    deliver(service, refund_requested(confirmed, {1: 300}))
    assert payment_row(service, confirmed.payment_id).status == "REFUNDED"
    refunded = [e for e in published_after_capture(service) if isinstance(e, PaymentRefunded)]
    assert [e.refunded_minor for e in refunded] == [700, 1000]
    assert set(account_balances(service).values()) == {0}


@pytest.mark.parametrize(
    ("amounts", "code"),
    [({0: 701}, "refund_exceeds_captured"), ({5: 100}, "unknown_payment_line")],
    ids=["more than captured", "no such line"],
)
def test_a_refund_the_payment_cannot_take_is_answered_with_refund_failed(
    service: CaptureService, provider: FakeProvider, amounts: dict[int, int], code: str
) -> None:
    confirmed = captured(service)
    refund = refund_requested(confirmed, amounts)
    assert deliver(service, refund) == "handled"
    [failed] = published_after_capture(service)
    assert isinstance(failed, RefundFailed)
    assert (failed.refund_id, failed.code) == (refund.refund_id, code)
    assert not any(":refund:" in key for key in provider.calls)
    assert deliver(service, dataclasses.replace(refund, event_id=str(uuid.uuid4()))) == "handled"
    assert len(published_after_capture(service)) == 1  # known as failed: not answered twice


def test_a_refund_of_a_payment_capture_never_saw_fails_as_unknown_payment(
    service: CaptureService,
) -> None:
    refund = refund_requested(order_confirmed(), {0: 100})
    assert deliver(service, refund) == "handled"
    [failed] = published(service)
    assert isinstance(failed, RefundFailed)
    assert failed.code == "unknown_payment"


def test_a_refund_of_a_payment_still_being_captured_fails_as_not_captured(
    service: CaptureService, provider: FakeProvider
) -> None:
    confirmed = order_confirmed((700, 300))
    provider.unavailable_once(capture_key(confirmed, 1))
    assert deliver(service, confirmed) == "retry_later"
    assert deliver(service, refund_requested(confirmed, {0: 100})) == "handled"
    [failed] = published(service)
    assert isinstance(failed, RefundFailed)
    assert failed.code == "payment_not_captured"


def test_the_same_refund_under_a_new_event_id_gives_nothing_back_twice(
    service: CaptureService, provider: FakeProvider
) -> None:
    confirmed = captured(service)
    refund = refund_requested(confirmed, {0: 200})
    deliver(service, refund)
    assert deliver(service, dataclasses.replace(refund, event_id=str(uuid.uuid4()))) == "handled"
    assert len(published_after_capture(service)) == 1
    assert provider.calls[refund_key(refund, 0)] == 1


def test_a_refund_id_taken_by_another_payment_is_dead_lettered(
    service: CaptureService, provider: FakeProvider
) -> None:
    first, second = captured(service), captured(service)
    refund = refund_requested(first, {0: 100})
    deliver(service, refund)
    with pytest.raises(RefundIdReused):
        deliver(service, refund_requested(second, {0: 100}, refund_id=refund.refund_id))


def test_a_refund_line_without_an_answer_is_kept_pending_and_the_retry_settles_it(
    service: CaptureService, provider: FakeProvider
) -> None:
    confirmed = captured(service)
    refund = refund_requested(confirmed, {0: 200, 1: 300})
    provider.unavailable_once(refund_key(refund, 1), after_performing=True)
    assert deliver(service, refund) == "retry_later"
    assert [r.status for r in refund_line_rows(service, refund.refund_id)] == [
        "REFUNDED",
        "PENDING_REFUND",
    ]
    assert published_after_capture(service) == []
    assert account_balances(service)["seller:seller_0"] == 500  # line 0 is posted already

    assert deliver(service, refund, attempt=2) == "handled"
    [refunded] = published_after_capture(service)
    assert isinstance(refunded, PaymentRefunded)
    assert refunded.amount_minor == 500
    assert provider.performed[refund_key(refund, 1)] == 1
    assert provider.calls[refund_key(refund, 1)] == 1


def test_giving_up_on_a_refund_the_provider_refuses_answers_refund_failed(
    service: CaptureService, provider: FakeProvider
) -> None:
    confirmed = captured(service)
    refund = refund_requested(confirmed, {0: 200, 1: 300})
    for n in (0, 1):
        provider.unavailable_once(refund_key(refund, n))  # never reached it
        provider.refuse(refund_key(refund, n), code="capture_too_old")  # refused when it does
    assert deliver(service, refund) == "retry_later"

    assert give_up(service, refund, ProviderUnavailable("still down")) == "handled"
    [failed] = published_after_capture(service)
    assert isinstance(failed, RefundFailed)
    assert (failed.code, failed.amount_minor) == ("capture_too_old", 500)
    assert payment_row(service, confirmed.payment_id).refunded_minor == 0
    assert [r.status for r in refund_line_rows(service, refund.refund_id)] == ["REFUND_FAILED"] * 2


def test_giving_up_on_a_refund_still_in_flight_completes_it(
    service: CaptureService, provider: FakeProvider
) -> None:
    confirmed = captured(service)
    refund = refund_requested(confirmed, {0: 200, 1: 300})
    provider.slow(refund_key(refund, 0))  # the provider refunds it after the client gave up
    provider.unavailable_once(refund_key(refund, 1))
    assert deliver(service, refund) == "retry_later"

    assert give_up(service, refund, ProviderUnavailable("still down")) == "handled"
    [refunded] = published_after_capture(service)
    assert isinstance(refunded, PaymentRefunded)
    assert refunded.amount_minor == 500
    assert payment_row(service, confirmed.payment_id).refunded_minor == 500
    assert provider.performed == {
        capture_key(confirmed, 0): 1,
        capture_key(confirmed, 1): 1,
        refund_key(refund, 0): 1,
        refund_key(refund, 1): 1,
    }


def test_giving_up_on_a_refund_that_moved_some_money_completes_it(
    service: CaptureService, provider: FakeProvider
) -> None:
    confirmed = captured(service)
    refund = refund_requested(confirmed, {0: 200, 1: 300})
    provider.unavailable_once(refund_key(refund, 0), after_performing=True)
    provider.unavailable_once(refund_key(refund, 1))
    assert deliver(service, refund) == "retry_later"

    assert give_up(service, refund, ProviderUnavailable("still down")) == "handled"
    [refunded] = published_after_capture(service)
    assert isinstance(refunded, PaymentRefunded)
    assert refunded.amount_minor == 500
    assert payment_row(service, confirmed.payment_id).refunded_minor == 500


@pytest.mark.parametrize("outage", ["unreachable", "down"])
def test_giving_up_while_the_provider_cannot_be_reached_leaves_the_refund_open(
    service: CaptureService, provider: FakeProvider, outage: str
) -> None:
    confirmed = captured(service)
    refund = refund_requested(confirmed, {0: 200})
    if outage == "down":  # it cannot even be asked
        provider.unavailable_once(refund_key(refund, 0), after_performing=True)
    else:  # it is asked, has no record, and the request sent once more does not get in
        provider.unreachable(refund_key(refund, 0))
    assert deliver(service, refund) == "retry_later"
    provider.down = outage == "down"

    assert give_up(service, refund, ProviderUnavailable("still down")) == "retry_later"
    assert published_after_capture(service) == []
    assert [r.status for r in refund_line_rows(service, refund.refund_id)] == ["PENDING_REFUND"]

    provider.down = False  # ops replay the dead letter once the provider is back
    provider.reachable(refund_key(refund, 0))
    assert deliver(service, refund) == "handled"
    [refunded] = published_after_capture(service)
    assert isinstance(refunded, PaymentRefunded)
    assert provider.performed[refund_key(refund, 0)] == 1
