"""capture's handler through the real unit of work, migrations and Postgres."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import pytest
from capture_delivery import deliver, payment_order_rows, payment_row, published
from capture_random_events import capture_key, order_confirmed

from capture.domain.errors import CaptureExceedsAuthorization
from capture.domain.model import payment_order_id_for
from paykit.provider import ProviderUnavailable
from payment_events.events import CaptureFailed, PaymentCaptured, new_event_id

if TYPE_CHECKING:
    from capture_fakes import FakeProvider

    from capture.bootstrap import CaptureService

pytestmark = pytest.mark.integration


def test_a_confirmed_payment_is_recorded_split_captured_and_announced_once(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((1000, 250, 4999))
    assert deliver(service, event)
    assert not deliver(service, event)  # redelivered: the inbox stops it

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
    assert deliver(service, dataclasses.replace(event, event_id=new_event_id()))
    assert len(published(service)) == 1
    assert len(payment_order_rows(service, event.payment_id)) == 2
    assert sum(provider.calls.values()) == 2


def test_a_refused_line_is_recorded_failed_and_announced(
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
    [failed] = published(service)
    assert isinstance(failed, CaptureFailed)
    assert (failed.payment_order_id, failed.code) == (
        refused.payment_order_id,
        "authorization_not_capturable",
    )


@pytest.mark.parametrize("after_performing", [False, True], ids=["refused", "answer lost"])
def test_a_provider_outage_midway_leaves_nothing_and_the_retry_captures_each_line_once(
    service: CaptureService, provider: FakeProvider, after_performing: bool
) -> None:
    event = order_confirmed((700, 300, 200))
    provider.unavailable_once(capture_key(event, 1), after_performing=after_performing)
    with pytest.raises(ProviderUnavailable):
        deliver(service, event)
    assert published(service) == []
    assert payment_order_rows(service, event.payment_id) == []

    assert deliver(service, event)  # the runtime's retry: same event, inbox row rolled back
    [captured] = published(service)
    assert isinstance(captured, PaymentCaptured)
    assert captured.amount_minor == 1200
    assert provider.performed == {capture_key(event, n): 1 for n in range(3)}
    assert provider.calls[capture_key(event, 0)] == 2  # the retry replayed the first line


def test_lines_beyond_the_authorization_are_refused_before_any_capture(
    service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 400), authorized_minor=1000)
    with pytest.raises(CaptureExceedsAuthorization):
        deliver(service, event)
    assert provider.calls == {}
    assert published(service) == []
