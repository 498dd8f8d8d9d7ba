"""What the runtime's integration tests share: a test event and its effects table, producing to
and reading from the real broker, committed offsets, and the consumer loop wired as
`paykit.service` wires it."""

from __future__ import annotations

import threading
import uuid
import zlib
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from confluent_kafka import Consumer, Producer, TopicPartition
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Identity,
    MetaData,
    Table,
    Text,
    func,
    insert,
    select,
)
from sqlalchemy.orm import sessionmaker

from payctl.embedded import wait_for
from paykit.consumer import ConsumerLoop
from paykit.dead_letters import DeadLetters
from paykit.dispatch import Dispatcher
from paykit.kafka import producer_config, take_available
from paykit.retries import RetryPolicy
from paykit.retry_worker import RetryWorker
from paykit.unit_of_work import UnitOfWork
from payment_events.codec import Codec
from payment_events.events import PaymentFailed, PaymentInitiated, SellerLine
from payment_events.registry import FileRegistry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from sqlalchemy.orm import Session

    from paykit.dispatch import GiveUp, Handler
    from payment_events.events import Event

test_metadata = MetaData()
# `seq` is the order of the inserts: the heap's order is not (each connection fills its own page).
effects = Table(
    "effects",
    test_metadata,
    Column("seq", BigInteger, Identity(), primary_key=True),
    Column("event_id", Text),
    Column("payment_id", Text),
)
codec = Codec(FileRegistry())

# Fast enough for a test, same shape as production's (doubling, capped, jittered).
FAST_RETRIES = RetryPolicy(max_attempts=3, base_seconds=0.05, max_delay_seconds=0.2)
# CONSUMER_CONCURRENCY's default: the runtime is tested as it runs.
LANES = 32


def initiated(payment_id: str | None = None) -> PaymentInitiated:
    """A new message each call: several of one payment have ids of their own (a payment's real
    events derive theirs, one per occurrence)."""
    return PaymentInitiated(
        payment_id=payment_id or str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
        customer_id="cus_1",
        currency="EUR",
        amount_minor=100,
        payment_method="pm_card_visa",
        lines=(SellerLine(line_no=0, seller_id="s1", amount_minor=100),),
    )


def on_separate_lanes(count: int, lanes: int = LANES) -> list[PaymentInitiated]:
    """`count` new payments whose keys fall on different lanes (paykit.lanes picks a lane by
    crc32 of the key): none of them waits behind another's message."""
    assert count <= lanes, f"{count} payments cannot have {lanes} lanes to themselves"
    found: dict[int, PaymentInitiated] = {}
    while len(found) < count:
        event = initiated()
        found.setdefault(zlib.crc32(event.payment_id.encode()) % lanes, event)
    return list(found.values())


def record_effect(event: PaymentInitiated, uow: UnitOfWork) -> None:
    uow.session.execute(
        insert(effects).values(event_id=event.event_id, payment_id=event.payment_id)
    )
    uow.record(
        # One per handled event, of which a payment has several here: an id of its own each.
        PaymentFailed(
            payment_id=event.payment_id, event_id=str(uuid.uuid4()), code="test", reason="follow-up"
        )
    )


def produce(
    broker: str, topic: str, *values: tuple[str, bytes], partition: int | None = None
) -> None:
    """Keyed messages, in order; all to `partition` when given (else the key picks it)."""
    producer = Producer(producer_config(broker, "test"))
    where = {} if partition is None else {"partition": partition}
    for key, value in values:
        producer.produce(topic, key=key, value=value, **where)
    assert producer.flush(10) == 0


def dispatching(
    broker: str,
    factory: sessionmaker[Session],
    handlers: Mapping[type[Event], Handler[UnitOfWork]],
    give_up: Mapping[type[Event], GiveUp[UnitOfWork]],
    policy: RetryPolicy,
) -> tuple[Dispatcher[UnitOfWork], DeadLetters]:
    """The per-message dispatcher of the test service, and the dead letters it sends."""
    dead_letters = DeadLetters(Producer(producer_config(broker, "dlq")), "test-service")
    dispatcher: Dispatcher[UnitOfWork] = Dispatcher(
        codec=codec,
        handlers=handlers,
        give_up=give_up,
        uow_factory=lambda: UnitOfWork(factory, codec),
        dead_letters=dead_letters,
        policy=policy,
    )
    return dispatcher, dead_letters


@contextmanager
def running_loop(
    broker: str,
    engine: Engine,
    topic: str,
    handler: Callable[[Any, UnitOfWork], None],
    group: str,
    give_up: Callable[[Any, UnitOfWork, BaseException], None] | None = None,
    policy: RetryPolicy = FAST_RETRIES,
    concurrency: int = LANES,
    stop: threading.Event | None = None,
) -> Iterator[ConsumerLoop[UnitOfWork]]:
    """The consumer loop and the retry worker, wired as `paykit.service` wires them; stopped and
    joined on leaving (`stop` lets the test stop them earlier)."""
    stop = stop or threading.Event()
    factory = sessionmaker(engine)
    give_ups = {PaymentInitiated: give_up} if give_up else {}
    dispatcher, dead_letters = dispatching(
        broker, factory, {PaymentInitiated: handler}, give_ups, policy
    )
    loop: ConsumerLoop[UnitOfWork] = ConsumerLoop(
        bootstrap=broker,
        group_id=group,
        client_id="test",
        topics=[topic],
        codec=codec,
        dispatcher=dispatcher,
        dead_letters=dead_letters,
        stop=stop,
        concurrency=concurrency,
    )
    with running_beside(loop.run, RetryWorker(dispatcher, factory, stop).run, stop=stop):
        yield loop


@contextmanager
def running_beside(*runs: Callable[[], None], stop: threading.Event) -> Iterator[None]:
    """Each of `runs` on a thread of its own; on leaving, `stop` is set and all are joined."""
    threads = [threading.Thread(target=run) for run in runs]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(30)
            assert not t.is_alive()


def committed_offsets(broker: str, group: str, topic: str, partitions: int = 3) -> list[int]:
    """The group's committed offset of each partition (0 where none is committed)."""
    c = Consumer({"bootstrap.servers": broker, "group.id": group})
    try:
        offsets = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        return [max(tp.offset, 0) for tp in offsets]
    finally:
        c.close()


def committed_total(broker: str, group: str, topic: str, partitions: int = 3) -> int:
    return sum(committed_offsets(broker, group, topic, partitions))


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def read_all(broker: str, topic: str, expected: int) -> list[Any]:
    c = Consumer(
        {"bootstrap.servers": broker, "group.id": uuid.uuid4().hex, "auto.offset.reset": "earliest"}
    )
    c.subscribe([topic])
    got: list[Any] = []

    def enough() -> bool:
        got.extend(m for m in take_available(c, 100, 0.5) if m.error() is None)
        return len(got) >= expected

    try:
        wait_for(enough, 30, f"{expected} messages on {topic}", interval=0)
        return got
    finally:
        c.close()


def effects_of(engine: Engine, payment_id: str) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(effects.c.event_id)
            .where(effects.c.payment_id == payment_id)
            .order_by(effects.c.seq)
        ).all()
    return [r.event_id for r in rows]
