"""The batch runtime (`paykit.batches`) against the real broker and Postgres: a batch applies each
payment's events once and in order in one transaction, and a payment that cannot be applied
takes the per-message path alone, without sinking the rest of its batch."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

import pytest
from batch_support import Tally, applied, running_batch_loop, tally
from prometheus_client import REGISTRY
from runtime_support import codec, committed_total, count, initiated, produce, read_all

from payctl.embedded import wait_for
from paykit.db import inbox, outbox, retry_schedule
from paykit.errors import ImpossibleEvent, RetryLater
from paykit.retries import RetryPolicy
from payment_events.codec import Codec, RegistryUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from payment_events.events import Event, PaymentInitiated
from payment_events.registry import FileRegistry

pytestmark = pytest.mark.integration


def batches_and_messages() -> tuple[float, float]:
    taken = REGISTRY.get_sample_value("payments_batch_messages_count") or 0.0
    messages = REGISTRY.get_sample_value("payments_batch_messages_sum") or 0.0
    return taken, messages


def test_a_batch_applies_each_payments_events_once_and_in_order(
    broker: str, engine: Engine, topic: str
) -> None:
    payments = {str(uuid.uuid4()): [initiated() for _ in range(3)] for _ in range(20)}
    values = []
    for payment_id, events in payments.items():
        events[:] = [initiated(payment_id) for _ in events]
        values += [(payment_id, codec.encode(e)) for e in events]
    repeated = values[0]
    produce(broker, topic, *values, repeated)
    group = uuid.uuid4().hex
    batches_before, messages_before = batches_and_messages()

    with running_batch_loop(broker, engine, topic, tally, group):
        wait_for(lambda: committed_total(broker, group, topic) == 61, 30, "all offsets committed")

    for payment_id, events in payments.items():
        assert applied(engine, payment_id) == [e.event_id for e in events]
    assert count(engine, inbox) == 60
    assert count(engine, outbox) == 60  # one follow-up per event handled, none for the repeat
    batches, messages = batches_and_messages()
    assert messages - messages_before == 61
    assert batches - batches_before < 61 / 2, "messages taken together, not one by one"


def test_a_payment_that_cannot_be_applied_is_handled_alone_and_the_batch_goes_on(
    broker: str, engine: Engine, topic: str
) -> None:
    poisoned = initiated()
    after_poison = initiated(poisoned.payment_id)
    others = [initiated() for _ in range(10)]

    def refuse_poison(event: PaymentInitiated, state: Tally | None) -> Tally:
        if event.event_id == poisoned.event_id:
            raise ImpossibleEvent("no such payment")
        return tally(event, state)

    events = [poisoned, *others, after_poison]
    produce(broker, topic, *[(e.payment_id, codec.encode(e)) for e in events])
    group = uuid.uuid4().hex
    with running_batch_loop(broker, engine, topic, refuse_poison, group):
        wait_for(lambda: committed_total(broker, group, topic) == 12, 30, "all offsets committed")

    [dead] = read_all(broker, f"{topic}.dlq", 1)
    assert dict(dead.headers())["dlq.error.code"] == b"impossible_event"
    assert dead.value() == codec.encode(poisoned)
    for other in others:
        assert applied(engine, other.payment_id) == [other.event_id]
    # The poisoned payment's next event is applied on the per-message path, after the poison.
    assert applied(engine, poisoned.payment_id) == [after_poison.event_id]
    assert count(engine, outbox) == 11


def test_an_undecodable_message_is_dead_lettered_and_its_batch_applied(
    broker: str, engine: Engine, topic: str
) -> None:
    good = initiated()
    produce(broker, topic, (good.payment_id, b"not avro"), (good.payment_id, codec.encode(good)))
    group = uuid.uuid4().hex
    with running_batch_loop(broker, engine, topic, tally, group):
        wait_for(lambda: committed_total(broker, group, topic) == 2, 30, "both offsets committed")
    [dead] = read_all(broker, f"{topic}.dlq", 1)
    assert dict(dead.headers())["dlq.error.code"] == b"undecodable"
    assert applied(engine, good.payment_id) == [good.event_id]


def test_a_parked_payments_later_events_wait_behind_it_while_others_pass(
    broker: str, engine: Engine, topic: str
) -> None:
    first = initiated()
    second = initiated(first.payment_id)
    other = initiated()
    outage = threading.Event()
    outage.set()

    def provider_down_for_first(event: PaymentInitiated, state: Tally | None) -> Tally:
        if event.event_id == first.event_id and outage.is_set():
            raise RetryLater("provider answered 503")
        return tally(event, state)

    group = uuid.uuid4().hex
    patient = RetryPolicy(max_attempts=10_000, base_seconds=0.05, max_delay_seconds=0.2)
    with running_batch_loop(broker, engine, topic, provider_down_for_first, group, patient):
        produce(broker, topic, (first.payment_id, codec.encode(first)))
        wait_for(lambda: count(engine, retry_schedule) == 1, 30, "the first event parked")
        # A later batch: the payment is on the retry schedule, so its event parks behind.
        produce(
            broker,
            topic,
            (second.payment_id, codec.encode(second)),
            (other.payment_id, codec.encode(other)),
        )
        wait_for(lambda: committed_total(broker, group, topic) == 3, 30, "all offsets committed")
        wait_for(lambda: applied(engine, other.payment_id), 30, "the other payment applied")
        assert applied(engine, first.payment_id) == []
        assert count(engine, retry_schedule) == 2
        outage.clear()
        wait_for(lambda: count(engine, retry_schedule) == 0, 30, "the schedule worked off")
    assert applied(engine, first.payment_id) == [first.event_id, second.event_id]


class RegistryDownFor(Codec):
    """The codec of a service whose schema registry does not answer its first `tries` asks."""

    def __init__(self, tries: int) -> None:
        super().__init__(FileRegistry())
        self.left = tries

    def decode(self, data: bytes | None) -> Event:
        if self.left > 0:
            self.left -= 1
            raise RegistryUnavailable("schema registry: connection refused")
        return super().decode(data)


def test_a_schema_registry_outage_is_waited_out_in_place(
    broker: str, engine: Engine, topic: str
) -> None:
    event = initiated()
    produce(broker, topic, (event.payment_id, codec.encode(event)))
    group = uuid.uuid4().hex
    down = RegistryDownFor(tries=2)
    with running_batch_loop(broker, engine, topic, tally, group, loop_codec=down) as loop:
        wait_for(lambda: committed_total(broker, group, topic) == 1, 30, "offset committed")
        assert loop.is_alive()
    assert down.left == 0
    assert applied(engine, event.payment_id) == [event.event_id]
