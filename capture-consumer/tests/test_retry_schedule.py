"""capture's handlers and give-ups under the real retry runtime (`paykit.dispatch`), driven
without Kafka: a message is delivered once, then the retry schedule is worked until nothing is
due, as the retry worker does."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from capture_delivery import payment_order_rows, payment_row, published, refund_line_rows
from capture_random_events import capture_key, order_confirmed, refund_key, refund_requested
from sqlalchemy import func, select

from paykit.db import retry_schedule
from paykit.dispatch import Dispatcher, Outcome
from paykit.messages import Received, Trace
from paykit.retries import RetryPolicy
from payment_events.catalog import topic_for
from payment_events.events import PaymentCaptured, PaymentRefunded

if TYPE_CHECKING:
    from capture_fakes import FakeProvider

    from capture.bootstrap import CaptureService
    from capture.unit_of_work import CaptureUnitOfWork
    from payment_events.events import Event

pytestmark = pytest.mark.integration

# Every retry due at once, and few of them: the schedule's shape, none of its waiting.
NO_WAITING = RetryPolicy(max_attempts=3, base_seconds=0.0, max_delay_seconds=0.0)


class DeadLetters:
    def __init__(self) -> None:
        self.sent: list[tuple[str, BaseException, int]] = []

    def send(self, msg: Received, error: BaseException, attempts: int) -> None:
        self.sent.append((msg.topic, error, attempts))


class Runtime:
    def __init__(self, service: CaptureService) -> None:
        self.service = service
        self.dead_letters = DeadLetters()
        self.dispatcher: Dispatcher[CaptureUnitOfWork] = Dispatcher(
            codec=service.wiring.codec,
            handlers=service.handlers,
            give_up=service.give_up,
            uow_factory=service.unit_of_work,
            dead_letters=self.dead_letters,  # type: ignore[arg-type]
            policy=NO_WAITING,
        )
        self._offset = 0

    def consume(self, event: Event) -> Outcome:
        self._offset += 1
        msg = Received(
            topic_for(type(event)).name,
            0,
            self._offset,
            event.payment_id.encode(),
            self.service.wiring.codec.encode(event),
            [],
        )
        return self.dispatcher.deliver(msg, event, Trace.start(event.payment_id))

    def work_the_schedule(self) -> int:
        """Tries parked messages until none is due; returns how many tries it made."""
        tries = 0
        while self.dispatcher.retry_due():
            tries += 1
        return tries

    def parked(self) -> int:
        with self.service.wiring.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(retry_schedule)).scalar_one())


@pytest.fixture
def runtime(service: CaptureService) -> Runtime:
    return Runtime(service)


def test_a_pending_line_parks_the_message_and_the_next_try_settles_it(
    runtime: Runtime, service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300))
    provider.unavailable_once(capture_key(event, 1), after_performing=True)
    assert runtime.consume(event) is Outcome.PARKED
    assert payment_order_rows(service, event.payment_id)[0].status == "CAPTURED"

    assert runtime.work_the_schedule() == 1
    assert runtime.parked() == 0
    [captured] = published(service)
    assert isinstance(captured, PaymentCaptured)
    assert provider.performed == {capture_key(event, 0): 1, capture_key(event, 1): 1}
    assert runtime.consume(event) is Outcome.DUPLICATE  # the last try claimed it


def test_a_capture_still_in_flight_when_the_attempts_run_out_is_captured_not_failed(
    runtime: Runtime, service: CaptureService, provider: FakeProvider
) -> None:
    # Every attempt times out while the provider is still working on line 1, so asking it finds
    # nothing; it captures the moment after. The give-up sends the request once more under the
    # same key and gets that capture, where failing the line would leave the shopper charged
    # for a payment recorded failed.
    event = order_confirmed((700, 300))
    provider.slow(capture_key(event, 1), calls=NO_WAITING.max_attempts)
    assert runtime.consume(event) is Outcome.PARKED
    assert runtime.work_the_schedule() == NO_WAITING.max_attempts - 1

    assert payment_row(service, event.payment_id).status == "CAPTURED"
    [captured] = published(service)
    assert isinstance(captured, PaymentCaptured)
    assert (captured.partial, captured.amount_minor) == (False, 1000)
    assert provider.performed == {capture_key(event, 0): 1, capture_key(event, 1): 1}
    [(topic, _, attempts)] = runtime.dead_letters.sent
    assert (topic, attempts) == ("order-confirmed", NO_WAITING.max_attempts)
    assert runtime.parked() == 0


def test_a_line_the_provider_never_gets_stays_pending_once_the_attempts_are_used_up(
    runtime: Runtime, service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300))
    provider.unreachable(capture_key(event, 1))
    assert runtime.consume(event) is Outcome.PARKED
    assert runtime.work_the_schedule() == NO_WAITING.max_attempts - 1

    assert payment_row(service, event.payment_id).status == "CAPTURE_PENDING"
    assert [o.status for o in payment_order_rows(service, event.payment_id)] == [
        "CAPTURED",
        "PENDING_CAPTURE",
    ]
    assert published(service) == []  # no CaptureFailed for a line that may yet be captured
    [(topic, _, attempts)] = runtime.dead_letters.sent
    assert (topic, attempts) == ("order-confirmed", NO_WAITING.max_attempts)
    assert runtime.parked() == 0
    # Each attempt sent it, and the give-up once more; replaying the dead letter settles it
    # (test_handlers.py: the give-up leaves the message unfinished).
    assert provider.calls[capture_key(event, 1)] == NO_WAITING.max_attempts + 1


def test_a_refund_waits_behind_its_payments_pending_capture(
    runtime: Runtime, service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700, 300))
    provider.unavailable_once(capture_key(event, 1))
    refund = refund_requested(event, {1: 300})
    assert runtime.consume(event) is Outcome.PARKED
    assert runtime.consume(refund) is Outcome.PARKED  # behind the capture, not refused

    runtime.work_the_schedule()
    assert [type(e) for e in published(service)] == [PaymentCaptured, PaymentRefunded]
    assert [r.status for r in refund_line_rows(service, refund.refund_id)] == ["REFUNDED"]
    assert provider.performed[refund_key(refund, 1)] == 1
    assert payment_row(service, event.payment_id).status == "PARTIALLY_REFUNDED"


def test_a_refund_that_never_reaches_the_provider_stays_open_once_the_attempts_are_used_up(
    runtime: Runtime, service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700,))
    runtime.consume(event)
    refund = refund_requested(event, {0: 100})
    provider.unreachable(refund_key(refund, 0))
    assert runtime.consume(refund) is Outcome.PARKED
    runtime.work_the_schedule()

    assert [type(e) for e in published(service)] == [PaymentCaptured]  # no RefundFailed
    assert [r.status for r in refund_line_rows(service, refund.refund_id)] == ["PENDING_REFUND"]
    assert payment_row(service, event.payment_id).refunded_minor == 0
    [(topic, _, _)] = runtime.dead_letters.sent
    assert topic == "refund-requested"


def test_a_refund_still_in_flight_when_the_attempts_run_out_is_completed_not_failed(
    runtime: Runtime, service: CaptureService, provider: FakeProvider
) -> None:
    event = order_confirmed((700,))
    runtime.consume(event)
    refund = refund_requested(event, {0: 100})
    provider.slow(refund_key(refund, 0), calls=NO_WAITING.max_attempts)
    assert runtime.consume(refund) is Outcome.PARKED
    runtime.work_the_schedule()

    assert [type(e) for e in published(service)] == [PaymentCaptured, PaymentRefunded]
    assert payment_row(service, event.payment_id).refunded_minor == 100
    assert provider.performed[refund_key(refund, 0)] == 1
