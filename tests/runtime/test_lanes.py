"""The consumer loop's lanes against the real broker and Postgres: payments on one partition are
handled at once, each payment's events in order, and the committed offset never passes a message
that did not finish, through a stop and a restart."""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from confluent_kafka import Producer
from runtime_support import (
    codec,
    committed_offsets,
    effects,
    effects_of,
    initiated,
    on_separate_lanes,
    produce,
    record_effect,
    running_loop,
)
from sqlalchemy import Engine, select

from payctl.embedded import wait_for
from paykit.consumer import ConsumerLoop
from paykit.dead_letters import DeadLetters
from paykit.errors import TransientError
from paykit.kafka import producer_config

if TYPE_CHECKING:
    from paykit.unit_of_work import UnitOfWork
    from payment_events.events import PaymentInitiated

pytestmark = pytest.mark.integration


class AtOnce:
    """Counts handlers running at the same moment."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self._running += 1
            self.most = max(self.most, self._running)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._running -= 1


def encoded(*events: PaymentInitiated) -> list[tuple[str, bytes]]:
    return [(e.payment_id, codec.encode(e)) for e in events]


def all_effects(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(effects.c.event_id)).scalars())


def test_payments_on_one_partition_are_handled_at_once(
    broker: str, engine: Engine, topic: str
) -> None:
    at_once = AtOnce()

    def call_slow_provider(event: PaymentInitiated, uow: UnitOfWork) -> None:
        with at_once:
            time.sleep(0.2)  # the provider's answer takes this long
        record_effect(event, uow)

    produce(broker, topic, *encoded(*(initiated() for _ in range(20))), partition=0)
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, call_slow_provider, group):
        wait_for(lambda: committed_offsets(broker, group, topic)[0] == 20, 30, "all committed")
    assert at_once.most > 1
    assert len(all_effects(engine)) == 20


def test_one_lane_handles_one_message_at_a_time(broker: str, engine: Engine, topic: str) -> None:
    at_once = AtOnce()

    def call_provider(event: PaymentInitiated, uow: UnitOfWork) -> None:
        with at_once:
            time.sleep(0.05)
        record_effect(event, uow)

    produce(broker, topic, *encoded(*(initiated() for _ in range(6))), partition=0)
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, call_provider, group, concurrency=1):
        wait_for(lambda: committed_offsets(broker, group, topic)[0] == 6, 30, "all committed")
    assert at_once.most == 1


def test_each_payments_events_are_handled_in_offset_order_while_payments_overlap(
    broker: str, engine: Engine, topic: str
) -> None:
    payments = [initiated() for _ in range(4)]
    rounds = [[initiated(p.payment_id) for p in payments] for _ in range(4)]
    position = {e.event_id: n for n, events in enumerate(rounds) for e in events}
    handled: list[PaymentInitiated] = []
    at_once = AtOnce()

    def earlier_ones_are_slower(event: PaymentInitiated, uow: UnitOfWork) -> None:
        with at_once:
            # Were a payment's events spread over lanes, its later ones would finish first.
            time.sleep(0.05 * (len(rounds) - position[event.event_id]))
            handled.append(event)
        record_effect(event, uow)

    produce(broker, topic, *encoded(*(e for events in rounds for e in events)), partition=0)
    group = uuid.uuid4().hex
    with running_loop(broker, engine, topic, earlier_ones_are_slower, group):
        wait_for(lambda: committed_offsets(broker, group, topic)[0] == 16, 30, "all committed")
    for p in payments:
        produced = [e.event_id for events in rounds for e in events if e.payment_id == p.payment_id]
        assert [e.event_id for e in handled if e.payment_id == p.payment_id] == produced
        assert effects_of(engine, p.payment_id) == produced
    assert at_once.most > 1


def test_the_committed_offset_waits_at_a_message_still_in_hand(
    broker: str, engine: Engine, topic: str
) -> None:
    # On lanes of their own: the later ones and the marker must not queue behind the blocked one.
    first, blocked, *later, marker = on_separate_lanes(8)
    release = threading.Event()

    def wait_for_release(event: PaymentInitiated, uow: UnitOfWork) -> None:
        if event.payment_id == blocked.payment_id:
            assert release.wait(60)
        record_effect(event, uow)

    produce(broker, topic, *encoded(first, blocked, *later), partition=0)
    group = uuid.uuid4().hex

    def committed(partition: int) -> int:
        return committed_offsets(broker, group, topic)[partition]

    with running_loop(broker, engine, topic, wait_for_release, group):
        try:
            wait_for(lambda: all(effects_of(engine, e.payment_id) for e in later), 30, "later ones")
            # Once a message on another partition is committed, the loop has committed since
            # the later ones finished: the blocked one still holds its partition's offset.
            produce(broker, topic, *encoded(marker), partition=1)
            wait_for(lambda: committed(1) == 1, 30, "the marker committed")
            assert committed(0) == 1
        finally:
            release.set()
        wait_for(lambda: committed(0) == 7, 30, "committed to the end once it finished")
    assert effects_of(engine, blocked.payment_id) == [blocked.event_id]


def test_a_stop_leaves_unfinished_messages_uncommitted_and_a_restart_handles_each_once(
    broker: str, engine: Engine, topic: str
) -> None:
    # On lanes of their own: a message queued behind the stuck or the held one would not finish.
    c1, c2, c3, c4, stuck, held = on_separate_lanes(6)
    stuck_next, held_next = initiated(stuck.payment_id), initiated(held.payment_id)
    events = [c1, c2, stuck, held, stuck_next, held_next, c3, c4]
    produce(broker, topic, *encoded(*events), partition=0)
    group = uuid.uuid4().hex
    stop = threading.Event()
    tried, holding = threading.Event(), threading.Event()

    def database_down_for_one(event: PaymentInitiated, uow: UnitOfWork) -> None:
        if event.event_id == stuck.event_id:
            tried.set()
            raise TransientError("database restarting")  # retried in place until the stop
        if event.event_id == held.event_id:
            holding.set()
            assert stop.wait(60)  # still in hand when the stop arrives
        record_effect(event, uow)

    with running_loop(broker, engine, topic, database_down_for_one, group, stop=stop):
        wait_for(
            lambda: (
                tried.is_set()
                and holding.is_set()
                and all(effects_of(engine, c.payment_id) for c in (c1, c2, c3, c4))
            ),
            30,
            "the stuck one tried, the held one in hand, the others handled",
        )
    assert sorted(all_effects(engine)) == sorted(e.event_id for e in (c1, c2, c3, c4, held))
    assert committed_offsets(broker, group, topic)[0] == events.index(stuck)

    with running_loop(broker, engine, topic, record_effect, group):
        wait_for(lambda: committed_offsets(broker, group, topic)[0] == 8, 30, "all committed")
    assert sorted(all_effects(engine)) == sorted(e.event_id for e in events)
    assert effects_of(engine, stuck.payment_id) == [stuck.event_id, stuck_next.event_id]


class BrokenDispatcher:
    """A bug in the runtime itself, outside any handler: nothing parks or dead-letters it."""

    def deliver(self, *_: Any) -> Any:
        raise RuntimeError("a bug outside the handlers")


def test_a_bug_escaping_a_lane_stops_the_loop_and_is_raised_from_run(
    broker: str, topic: str
) -> None:
    event = initiated()
    produce(broker, topic, *encoded(event), partition=0)
    group = uuid.uuid4().hex
    stop = threading.Event()
    loop: ConsumerLoop[UnitOfWork] = ConsumerLoop(
        bootstrap=broker,
        group_id=group,
        client_id="test",
        topics=[topic],
        codec=codec,
        dispatcher=BrokenDispatcher(),  # type: ignore[arg-type]
        dead_letters=DeadLetters(Producer(producer_config(broker, "dlq")), "test-service"),
        stop=stop,
        concurrency=4,
    )
    with pytest.raises(RuntimeError, match="a bug outside the handlers"):
        loop.run()
    assert stop.is_set()
    assert committed_offsets(broker, group, topic) == [0, 0, 0]
