"""The shared runtime against the real broker and Postgres: inbox, dead letters, in-place retries,
the retry schedule, the relay."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from confluent_kafka import KafkaException, Producer
from runtime_support import (
    FAST_RETRIES,
    codec,
    committed_total,
    count,
    effects,
    effects_of,
    initiated,
    produce,
    read_all,
    record_effect,
    running_loop,
)
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import sessionmaker

from payctl.embedded import wait_for
from paykit.db import outbox, retry_schedule
from paykit.errors import ImpossibleEvent, RetryLater, TransientError
from paykit.kafka import producer_config
from paykit.relay import RELAY_LOCK, OutboxRelay
from paykit.retries import RetryPolicy
from paykit.unit_of_work import UnitOfWork
from payment_events.events import PaymentFailed, PaymentInitiated

pytestmark = pytest.mark.integration


def test_a_redelivered_event_changes_nothing(broker: str, engine: Engine, topic: str) -> None:
    event = initiated()
    value = codec.encode(event)
    produce(broker, topic, (event.payment_id, value), (event.payment_id, value))
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, record_effect, group):
        wait_for(lambda: committed_total(broker, group, topic) == 2, 30, "both offsets committed")
    assert count(engine, effects) == 1
    assert count(engine, outbox) == 1


def test_poison_messages_go_to_the_dead_letter_topic_and_the_partition_moves_on(
    broker: str, engine: Engine, topic: str
) -> None:
    key = str(uuid.uuid4())
    good = initiated(key)
    unknown_schema = b"\x00\x00\x00\x27\x0f" + b"\x02"
    produce(broker, topic, (key, b"not avro"), (key, unknown_schema), (key, codec.encode(good)))
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, record_effect, group):
        wait_for(lambda: committed_total(broker, group, topic) == 3, 30, "all offsets committed")
    assert count(engine, effects) == 1
    dead = read_all(broker, f"{topic}.dlq", 2)
    headers = [dict(m.headers()) for m in dead]
    assert sorted(h["dlq.error.code"] for h in headers) == [b"undecodable", b"unknown_schema_id"]
    for h in headers:
        assert h["dlq.original.topic"] == topic.encode()
        assert h["dlq.service"] == b"test-service"
        assert h["dlq.attempts"] == b"1"
    assert {int(h["dlq.original.offset"]) for h in headers} == {0, 1}
    assert sorted(m.value() for m in dead) == sorted([b"not avro", unknown_schema])


def test_an_impossible_event_is_dead_lettered_without_its_effects(
    broker: str, engine: Engine, topic: str
) -> None:
    def refuse(event: PaymentInitiated, uow: UnitOfWork) -> None:
        record_effect(event, uow)
        raise ImpossibleEvent("no such payment")

    event = initiated()
    produce(broker, topic, (event.payment_id, codec.encode(event)))
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, refuse, group):
        wait_for(lambda: committed_total(broker, group, topic) == 1, 30, "offset committed")
    [dead] = read_all(broker, f"{topic}.dlq", 1)
    assert dict(dead.headers())["dlq.error.code"] == b"impossible_event"
    assert count(engine, effects) == 0
    assert count(engine, outbox) == 0


def test_a_transient_error_is_retried_and_not_committed_until_it_succeeds(
    broker: str, engine: Engine, topic: str
) -> None:
    failures_left = [3]

    def flaky(event: PaymentInitiated, uow: UnitOfWork) -> None:
        record_effect(event, uow)
        if failures_left[0] > 0:
            failures_left[0] -= 1
            raise TransientError("provider down")

    event = initiated()
    produce(broker, topic, (event.payment_id, codec.encode(event)))
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, flaky, group):
        wait_for(lambda: committed_total(broker, group, topic) == 1, 30, "offset committed")
    assert failures_left == [0]
    assert count(engine, effects) == 1


def test_a_provider_outage_parks_the_payment_and_the_partition_moves_on(
    broker: str, engine: Engine, topic: str
) -> None:
    blocked, other = initiated(), initiated()
    outage = threading.Event()
    outage.set()
    seen_attempts: list[int] = []

    def call_provider(event: PaymentInitiated, uow: UnitOfWork) -> None:
        if event.payment_id == blocked.payment_id:
            seen_attempts.append(uow.attempt)
            if outage.is_set():
                raise RetryLater("provider answered 503")
        record_effect(event, uow)

    # Same key for both would be one payment; different keys may share a partition, and the
    # other payment must pass while the blocked one waits.
    produce(
        broker,
        topic,
        (blocked.payment_id, codec.encode(blocked)),
        (other.payment_id, codec.encode(other)),
    )
    group = uuid.uuid4().hex
    patient = RetryPolicy(max_attempts=10_000, base_seconds=0.05, max_delay_seconds=0.2)
    with running_loop(broker, engine, topic, call_provider, group, policy=patient):
        wait_for(lambda: committed_total(broker, group, topic) == 2, 30, "both offsets committed")
        wait_for(lambda: effects_of(engine, other.payment_id), 30, "the other payment handled")
        assert effects_of(engine, blocked.payment_id) == []
        assert count(engine, retry_schedule) == 1
        outage.clear()
        wait_for(lambda: effects_of(engine, blocked.payment_id), 30, "the parked payment handled")
    assert count(engine, retry_schedule) == 0
    assert seen_attempts[0] == 1
    assert seen_attempts[-1] > 1  # a retry knows it is one, to ask the provider first


def test_a_parked_message_wakes_the_idle_retry_worker(
    broker: str, engine: Engine, topic: str
) -> None:
    # The worker sweeps the schedule only every 30 s; a message its consumer parks must not
    # wait for that sweep, only for its own (50 ms) delay.
    event = initiated()
    refused = threading.Event()

    def refuse_once(e: PaymentInitiated, uow: UnitOfWork) -> None:
        if not refused.is_set():
            refused.set()
            raise RetryLater("provider answered 503")
        record_effect(e, uow)

    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, refuse_once, group):
        produce(broker, topic, (event.payment_id, codec.encode(event)))
        wait_for(refused.is_set, 30, "the first attempt refused")
        wait_for(lambda: effects_of(engine, event.payment_id), 10, "the retry, before a sweep")


def test_retries_are_bounded_then_the_give_up_handler_records_a_terminal_state(
    broker: str, engine: Engine, topic: str
) -> None:
    given_up: list[tuple[str, str]] = []

    def always_down(event: PaymentInitiated, uow: UnitOfWork) -> None:
        raise RetryLater("provider answered 503")

    def fail_payment(event: PaymentInitiated, uow: UnitOfWork, error: BaseException) -> None:
        given_up.append((event.payment_id, str(error)))
        uow.record(
            PaymentFailed(payment_id=event.payment_id, code="provider_unavailable", reason="")
        )

    event = initiated()
    produce(broker, topic, (event.payment_id, codec.encode(event)))
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, always_down, group, give_up=fail_payment):
        [dead] = read_all(broker, f"{topic}.dlq", 1)
        wait_for(lambda: count(engine, retry_schedule) == 0, 30, "the schedule emptied")
    headers = dict(dead.headers())
    assert headers["dlq.attempts"] == str(FAST_RETRIES.max_attempts).encode()
    assert headers["dlq.error.code"] == b"retry_later"
    assert headers["dlq.service"] == b"test-service"
    assert given_up == [(event.payment_id, "provider answered 503")]
    assert count(engine, outbox) == 1  # the terminal event, once


def test_a_later_event_of_a_parked_payment_waits_behind_it(
    broker: str, engine: Engine, topic: str
) -> None:
    first = initiated()
    second = initiated(first.payment_id)
    tries = {first.event_id: 0}

    def first_fails_twice(event: PaymentInitiated, uow: UnitOfWork) -> None:
        if event.event_id == first.event_id:
            tries[first.event_id] += 1
            if tries[first.event_id] <= 2:
                raise RetryLater("provider timed out")
        record_effect(event, uow)

    produce(
        broker,
        topic,
        (first.payment_id, codec.encode(first)),
        (second.payment_id, codec.encode(second)),
    )
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, first_fails_twice, group):
        wait_for(lambda: len(effects_of(engine, first.payment_id)) == 2, 30, "both handled")
    assert effects_of(engine, first.payment_id) == [first.event_id, second.event_id]


def test_retry_later_keeps_the_handlers_work_and_handles_the_message_again(
    broker: str, engine: Engine, topic: str
) -> None:
    def capture_in_two_steps(event: PaymentInitiated, uow: UnitOfWork) -> None:
        record_effect(event, uow)
        if uow.attempt == 1:
            uow.retry_later("one line pending at the provider")

    event = initiated()
    produce(broker, topic, (event.payment_id, codec.encode(event)))
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, capture_in_two_steps, group):
        wait_for(lambda: len(effects_of(engine, event.payment_id)) == 2, 30, "two steps")
        wait_for(lambda: count(engine, retry_schedule) == 0, 30, "the schedule emptied")
    assert count(engine, outbox) == 2


def test_an_unclassified_error_never_blocks_the_partition_and_ends_dead_lettered(
    broker: str, engine: Engine, topic: str
) -> None:
    bug, fine = initiated(), initiated()

    def buggy(event: PaymentInitiated, uow: UnitOfWork) -> None:
        if event.payment_id == bug.payment_id:
            raise ZeroDivisionError("a bug")
        record_effect(event, uow)

    produce(
        broker, topic, (bug.payment_id, codec.encode(bug)), (fine.payment_id, codec.encode(fine))
    )
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, buggy, group):
        wait_for(lambda: effects_of(engine, fine.payment_id), 30, "the healthy payment handled")
        [dead] = read_all(broker, f"{topic}.dlq", 1)
    assert dict(dead.headers())["dlq.error.code"] == b"gave_up"
    assert effects_of(engine, bug.payment_id) == []


def test_the_relay_publishes_in_order_per_key_and_stamps_rows(broker: str, engine: Engine) -> None:
    payment_id = str(uuid.uuid4())
    events = [
        PaymentFailed(
            payment_id=payment_id, event_id=str(uuid.uuid4()), code=f"c{i}", reason="ordered"
        )
        for i in range(20)
    ]
    factory = sessionmaker(engine)
    for e in events:
        with UnitOfWork(factory, codec) as uow:
            uow.record(e)
            uow.commit()
    stop = threading.Event()
    relay = OutboxRelay(engine, Producer(producer_config(broker, "relay")), stop, batch_size=7)
    while relay.relay_once():
        pass
    assert relay.backlog() == 0
    published = [
        m for m in read_all(broker, "payment-failed", 20) if m.key() == payment_id.encode()
    ]
    decoded = [codec.decode(m.value()) for m in published]
    assert [e.event_id for e in decoded] == [e.event_id for e in events]
    headers = dict(published[0].headers())
    assert headers["event_type"] == b"PaymentFailed"
    assert headers["correlation_id"] == payment_id.encode()
    assert headers["traceparent"].startswith(b"00-")


def test_one_relay_per_database_publishes_while_another_holds_the_lock(
    broker: str, engine: Engine
) -> None:
    event = PaymentFailed(payment_id=str(uuid.uuid4()), code="c", reason="once")
    with UnitOfWork(sessionmaker(engine), codec) as uow:
        uow.record(event)
        uow.commit()
    relay = OutboxRelay(engine, Producer(producer_config(broker, "relay")), threading.Event())
    with engine.begin() as other_relay:  # another instance's relay, mid-cycle
        other_relay.execute(select(func.pg_advisory_xact_lock(RELAY_LOCK)))
        assert relay.relay_once() == 0
        assert relay.backlog() == 1
    assert relay.relay_once() == 1
    assert relay.backlog() == 0


def test_one_unpublishable_outbox_row_does_not_hold_back_the_others(
    broker: str, engine: Engine, topic: str
) -> None:
    def row(value: bytes) -> dict[str, Any]:
        return {"event_id": str(uuid.uuid4()), "topic": topic, "key": "k", "value": value}

    # The middle one is larger than any broker takes: it can never be published.
    with engine.begin() as conn:
        conn.execute(
            insert(outbox),
            [{**row(v), "headers": {}} for v in (b"first", b"x" * 3_000_000, b"third")],
        )
    relay = OutboxRelay(engine, Producer(producer_config(broker, "relay")), threading.Event())
    with pytest.raises(KafkaException):
        relay.relay_once()
    assert relay.backlog() == 1  # only the bad row is left
    assert sorted(m.value() for m in read_all(broker, topic, 2)) == [b"first", b"third"]


def test_a_transaction_that_fails_at_commit_is_parked_not_fatal(
    broker: str, engine: Engine, topic: str
) -> None:
    bad, fine = initiated(), initiated()

    def record_unencodable(event: PaymentInitiated, uow: UnitOfWork) -> None:
        record_effect(event, uow)
        if event.payment_id == bad.payment_id:  # fails only when the outbox row is encoded
            uow.record(PaymentFailed(payment_id=event.payment_id, code=None, reason="x"))  # type: ignore[arg-type]

    produce(
        broker, topic, (bad.payment_id, codec.encode(bad)), (fine.payment_id, codec.encode(fine))
    )
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, record_unencodable, group):
        wait_for(lambda: effects_of(engine, fine.payment_id), 30, "the healthy payment handled")
        [dead] = read_all(broker, f"{topic}.dlq", 1)
        wait_for(lambda: count(engine, retry_schedule) == 0, 30, "the schedule emptied")
    assert dict(dead.headers())["dlq.attempts"] == str(FAST_RETRIES.max_attempts).encode()
    assert effects_of(engine, bad.payment_id) == []


def test_a_message_given_up_without_a_terminal_state_is_handled_when_replayed(
    broker: str, engine: Engine, topic: str
) -> None:
    outage = threading.Event()
    outage.set()

    def call_provider(event: PaymentInitiated, uow: UnitOfWork) -> None:
        if outage.is_set():
            raise RetryLater("provider answered 503")
        record_effect(event, uow)

    event = initiated()
    produce(broker, topic, (event.payment_id, codec.encode(event)))
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, call_provider, group):
        [dead] = read_all(broker, f"{topic}.dlq", 1)
        wait_for(lambda: count(engine, retry_schedule) == 0, 30, "the schedule emptied")
        outage.clear()
        produce(broker, topic, (event.payment_id, dead.value()))  # ops replay the dead letter
        wait_for(lambda: effects_of(engine, event.payment_id), 30, "the replay handled")


def test_events_of_work_kept_by_retry_later_survive_a_failing_give_up(
    broker: str, engine: Engine, topic: str
) -> None:
    def keep_part_and_retry(event: PaymentInitiated, uow: UnitOfWork) -> None:
        record_effect(event, uow)
        uow.retry_later("one line still pending")

    def broken_give_up(event: PaymentInitiated, uow: UnitOfWork, error: BaseException) -> None:
        raise RuntimeError("a bug in the give-up")

    event = initiated()
    produce(broker, topic, (event.payment_id, codec.encode(event)))
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, keep_part_and_retry, group, give_up=broken_give_up):
        read_all(broker, f"{topic}.dlq", 1)
        wait_for(lambda: count(engine, retry_schedule) == 0, 30, "the schedule emptied")
    attempts = FAST_RETRIES.max_attempts
    assert len(effects_of(engine, event.payment_id)) == attempts
    assert count(engine, outbox) == attempts  # every kept change has its event
