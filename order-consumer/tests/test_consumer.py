"""order-consumer's real consumer loop on the real broker: a duplicate delivery acts once."""

from __future__ import annotations

import threading
import uuid
from typing import TYPE_CHECKING

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition
from orders_random_events import payment_succeeded
from sqlalchemy import func, select

from orders.adapters.orm import orders
from orders.bootstrap import bootstrap
from payctl.embedded import wait_for
from paykit.batches import BatchLoop
from paykit.db import outbox
from paykit.kafka import ensure_topics, producer_config
from paykit.service import consume
from payment_events.catalog import topics_consumed_by
from payment_events.codec import Codec
from payment_events.events import OrderConfirmed
from payment_events.registry import FileRegistry

if TYPE_CHECKING:
    from orders.bootstrap import Orders
    from orders.settings import Settings

pytestmark = pytest.mark.integration

TOPICS = topics_consumed_by("order-consumer")
codec = Codec(FileRegistry())


def produce_twice(broker: str, topic: str, key: str, value: bytes) -> TopicPartition:
    """Sends the same bytes twice; returns where the second copy landed."""
    delivered: list[Message] = []

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        assert err is None, err
        delivered.append(msg)

    producer = Producer(producer_config(broker, "test"))
    for _ in range(2):
        producer.produce(topic, key=key, value=value, on_delivery=on_delivery)
    assert producer.flush(10) == 0
    last = delivered[-1]
    partition, offset = last.partition(), last.offset()
    assert partition is not None
    assert offset is not None
    return TopicPartition(topic, partition, offset)


def committed_past(broker: str, group: str, where: TopicPartition) -> bool:
    c = Consumer({"bootstrap.servers": broker, "group.id": group})
    try:
        [tp] = c.committed([TopicPartition(where.topic, where.partition)], timeout=10)
        return bool(tp.offset > where.offset)
    finally:
        c.close()


def run_loop(service: Orders, settings: Settings) -> threading.Thread:
    """The service's loop as `paykit.service` runs it: the runtime its settings ask for."""
    producer = Producer(producer_config(settings.kafka_bootstrap_servers, "order-consumer-test"))
    loop, _ = consume(
        service.wiring,
        producer,
        topics=TOPICS,
        handlers=service.handlers,
        uow_factory=service.unit_of_work,
        give_up=service.give_up,
        client_id="order-consumer-test",
        state_handlers=service.orders,
    )
    assert isinstance(loop, BatchLoop) == (settings.consumer_runtime == "batch")
    thread = threading.Thread(target=loop.run)
    thread.start()
    return thread


@pytest.mark.parametrize("runtime", ["batch", "lanes"])
def test_a_payment_succeeded_delivered_twice_makes_one_order_and_one_event(
    broker: str, settings: Settings, runtime: str
) -> None:
    ensure_topics(broker, [*TOPICS, *(f"{t}.dlq" for t in TOPICS)], partitions=3)
    # Its own group: the loop reads the shared topic from the start, other tests' events too.
    settings = settings.model_copy(
        update={
            "kafka_bootstrap_servers": broker,
            "consumer_group": uuid.uuid4().hex,
            "consumer_runtime": runtime,
        }
    )
    service = bootstrap(settings)
    event = payment_succeeded()
    second = produce_twice(broker, TOPICS[0], event.payment_id, codec.encode(event))
    stop = service.wiring.stop
    thread = run_loop(service, settings)
    try:
        wait_for(
            lambda: committed_past(broker, settings.group_id, second), 30, "both copies committed"
        )
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()

    with service.wiring.engine.connect() as conn:
        mine = orders.c.payment_id == event.payment_id
        count = conn.execute(select(func.count()).select_from(orders).where(mine)).scalar_one()
        rows = conn.execute(select(outbox.c.value).where(outbox.c.key == event.payment_id)).all()
    service.wiring.engine.dispose()
    assert count == 1
    [row] = rows
    assert isinstance(codec.decode(row.value), OrderConfirmed)
