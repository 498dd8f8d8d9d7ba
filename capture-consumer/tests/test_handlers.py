"""Capturing through the real unit of work, migrations and Postgres, delivered as the runtime
delivers: retried while lines are pending, given up once the attempts are used up."""

from __future__ import annotations

import dataclasses
import uuid
from typing import TYPE_CHECKING

import pytest
from capture_delivery import (
    account_balances,
    deliver,
    entry_ids,
    give_up,
    payment_order_rows,
    payment_row,
    published,
)
from capture_random_events import capture_key, order_confirmed

from capture.domain.errors import CaptureExceedsAuthorization
from capture.domain.payment_order import payment_order_id_for
from paykit.provider import ProviderUnavailable
from payment_events.events import CaptureFailed, PaymentCaptured

if TYPE_CHECKING:
    from capture_fakes import FakeProvider

    from capture.bootstrap import CaptureService

pytestmark = pytest.mark.integration


def test_a_confirmed_payment_is_recorded_split_captured_and_announced_once(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((1000, 250, 4999))
    assert deliver(service, event) == "handled"
    assert deliver(service, event) == "duplicate"  # redelivered: the inbox stops it

    payment = payment_row(service, event.payment_id)
    assert (payment.order_id, payment.currency, payment.authorization_id) == (
        event.order_id,
        "EUR",
        event.authorization_id,
    )
    assert (payment.authorized_minor, payment.captured_minor) == (6249, 6249)
    assert payment.status == "CAPTURED"
    orders = payment_order_rows(service, event.payment_id)
    assert [(o.line_no, o.seller_id, o.amount_minor, o.status) for o in orders] == [
        (0, "seller_0", 1000, "CAPTURED"),
        (1, "seller_1", 250, "CAPTURED"),
        (2, "seller_2", 4999, "CAPTURED"),
    ]
    assert [o.payment_order_id for o in orders] == [
        payment_order_id_for(event.payment_id, n) for n in range(3)
    ]
    [captured] = published(service)
    assert isinstance(captured, PaymentCaptured)
    assert (captured.payment_id, captured.order_id) == (event.payment_id, event.order_id)
    assert captured.amount_minor == 6249
    assert [(line.payment_order_id, line.capture_id) for line in captured.lines] == [
        (o.payment_order_id, o.capture_id) for o in orders
    ]
    assert provider.performed == {capture_key(event, n): 1 for n in range(3)}
    assert sum(provider.calls.values()) == 3


def test_the_same_payment_confirmed_under_a_new_event_id_changes_nothing(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300))
    deliver(service, event)
    assert deliver(service, dataclasses.replace(event, event_id=str(uuid.uuid4()))) == "handled"
    assert len(published(service)) == 1
    assert len(payment_order_rows(service, event.payment_id)) == 2
    assert sum(provider.calls.values()) == 2


def test_a_refused_line_is_recorded_failed_and_the_rest_announced_as_partial(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300))
    provider.refuse(capture_key(event, 1), code="authorization_not_capturable")
    deliver(service, event)

    assert payment_row(service, event.payment_id).status == "PARTIALLY_CAPTURED"
    refused = payment_order_rows(service, event.payment_id)[1]
    assert (refused.status, refused.failure_code, refused.capture_id) == (
        "CAPTURE_FAILED",
        "authorization_not_capturable",
        None,
    )
    failed, captured = published(service)
    assert isinstance(failed, CaptureFailed)
    assert (failed.payment_order_id, failed.code) == (
        refused.payment_order_id,
        "authorization_not_capturable",
    )
    assert isinstance(captured, PaymentCaptured)
    assert (captured.partial, captured.amount_minor) == (True, 700)
    assert account_balances(service) == {"psp_receivable": -700, "seller:seller_0": 700}


@pytest.mark.parametrize("after_performing", [False, True], ids=["not sent", "answer lost"])
def test_a_line_without_an_answer_is_kept_pending_and_the_retry_settles_it(
    service: CaptureService, provider: FakeProvider, after_performing: bool
) -> None:
    event = order_confirmed((700, 300, 200))
    provider.unavailable_once(capture_key(event, 1), after_performing=after_performing)
    assert deliver(service, event) == "retry_later"

    # The lines that were answered are committed, and posted, at once.
    assert [o.status for o in payment_order_rows(service, event.payment_id)] == [
        "CAPTURED",
        "PENDING_CAPTURE",
        "CAPTURED",
    ]
    assert payment_row(service, event.payment_id).status == "CAPTURE_PENDING"
    assert published(service) == []
    assert account_balances(service)["psp_receivable"] == -900

    assert deliver(service, event, attempt=2) == "handled"  # from the retry schedule
    [captured] = published(service)
    assert isinstance(captured, PaymentCaptured)
    assert (captured.amount_minor, captured.partial) == (1200, False)
    assert provider.performed == {capture_key(event, n): 1 for n in range(3)}
    assert provider.calls[capture_key(event, 0)] == 1  # settled lines are not asked about again
    assert provider.asked[capture_key(event, 1)] == 1
    assert account_balances(service)["psp_receivable"] == -1200


def test_a_confirmation_under_a_new_event_id_settles_the_pending_lines_too(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300))
    provider.unavailable_once(capture_key(event, 1), after_performing=True)
    deliver(service, event)
    twin = dataclasses.replace(event, event_id=str(uuid.uuid4()))
    assert deliver(service, twin) == "handled"
    assert payment_row(service, event.payment_id).status == "CAPTURED"
    assert provider.performed == {capture_key(event, 0): 1, capture_key(event, 1): 1}


def test_a_retried_message_asks_the_provider_before_sending_anything(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300))
    # An earlier attempt captured line 0 at the provider, then failed and was rolled back.
    provider.capture(
        idempotency_key=capture_key(event, 0),
        authorization_id=event.authorization_id,
        amount_minor=700,
        reference=payment_order_id_for(event.payment_id, 0),
    )
    assert deliver(service, event, attempt=2) == "handled"
    assert provider.asked == {capture_key(event, 0): 1, capture_key(event, 1): 1}
    assert provider.calls == {capture_key(event, 0): 1, capture_key(event, 1): 1}
    assert entry_ids(service, event.payment_id) == sorted(
        f"capture:{payment_order_id_for(event.payment_id, n)}" for n in (0, 1)
    )


def test_giving_up_sends_again_what_the_provider_has_no_record_of_and_fails_only_refusals(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300, 200))
    provider.slow(capture_key(event, 1))  # the provider is still working on it at the give-up
    provider.unavailable_once(capture_key(event, 2))  # never reached it, refused when it does
    provider.refuse(capture_key(event, 2), code="authorization_not_capturable")
    assert deliver(service, event) == "retry_later"

    assert give_up(service, event, ProviderUnavailable("still down")) == "handled"
    assert payment_row(service, event.payment_id).status == "PARTIALLY_CAPTURED"
    rows = payment_order_rows(service, event.payment_id)
    assert [(o.status, o.failure_code) for o in rows] == [
        ("CAPTURED", None),
        ("CAPTURED", None),
        ("CAPTURE_FAILED", "authorization_not_capturable"),
    ]
    failed, captured = published(service)
    assert isinstance(failed, CaptureFailed)
    assert (failed.line_no, failed.code) == (2, "authorization_not_capturable")
    assert isinstance(captured, PaymentCaptured)
    assert (captured.partial, captured.amount_minor) == (True, 1000)
    assert provider.performed == {capture_key(event, n): 1 for n in range(3)}
    assert account_balances(service)["psp_receivable"] == -1000  # the ledger has line 1 too


def test_giving_up_while_the_provider_stays_unreachable_leaves_the_message_unfinished(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300))
    provider.unreachable(capture_key(event, 1))
    assert deliver(service, event) == "retry_later"

    assert give_up(service, event, ProviderUnavailable("still down")) == "retry_later"
    assert [o.status for o in payment_order_rows(service, event.payment_id)] == [
        "CAPTURED",
        "PENDING_CAPTURE",
    ]
    assert payment_row(service, event.payment_id).status == "CAPTURE_PENDING"
    assert published(service) == []  # never CaptureFailed while it may still be captured

    provider.reachable(capture_key(event, 1))  # ops replay the dead letter: the same event
    assert deliver(service, event) == "handled"
    [captured] = published(service)
    assert isinstance(captured, PaymentCaptured)
    assert (captured.partial, captured.amount_minor) == (False, 1000)
    assert provider.performed == {capture_key(event, 0): 1, capture_key(event, 1): 1}


def test_giving_up_on_a_payment_no_attempt_recorded_asks_the_provider_about_every_line(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300))
    provider.capture(  # an attempt that was rolled back had captured line 0
        idempotency_key=capture_key(event, 0),
        authorization_id=event.authorization_id,
        amount_minor=700,
        reference=payment_order_id_for(event.payment_id, 0),
    )
    assert give_up(service, event, RuntimeError("a bug on every attempt")) == "handled"
    assert payment_row(service, event.payment_id).status == "CAPTURED"
    assert [type(e) for e in published(service)] == [PaymentCaptured]
    assert provider.asked == {capture_key(event, 0): 1, capture_key(event, 1): 1}
    assert provider.calls == {capture_key(event, 0): 1, capture_key(event, 1): 1}
    assert provider.performed == {capture_key(event, 0): 1, capture_key(event, 1): 1}


def test_lines_beyond_the_authorization_are_refused_before_any_capture(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 400), authorized_minor=1000)
    with pytest.raises(CaptureExceedsAuthorization):
        deliver(service, event)
    assert provider.calls == {}
    assert published(service) == []
