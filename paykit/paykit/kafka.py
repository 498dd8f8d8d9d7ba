"""librdkafka configuration for producers and consumers, and topic creation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

if TYPE_CHECKING:
    from confluent_kafka import Consumer, Message


def producer_config(bootstrap: str, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        # Idempotence gives acks=all and keeps order per partition across internal retries.
        "enable.idempotence": True,
        "linger.ms": 5,
        "compression.type": "lz4",
        "message.timeout.ms": 30000,
    }


def consumer_config(bootstrap: str, group_id: str, client_id: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group_id,
        "client.id": client_id,
        "auto.offset.reset": "earliest",
        # Offsets are committed by the runtime, only after the handler's transaction committed.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "session.timeout.ms": 10000,
        "heartbeat.interval.ms": 1000,
        "max.poll.interval.ms": 300000,
    }


def take_available(consumer: Consumer, limit: int, wait: float) -> list[Message]:
    """Up to `limit` messages: those already fetched, or else the first to arrive within `wait`
    seconds with whatever came along with it. Never waits for a batch to fill: librdkafka's
    consume(n, timeout) does, which held every lightly loaded hop back by up to `timeout`."""
    if limit < 1:
        return []
    taken: list[Message] = consumer.consume(limit, timeout=0)
    if taken:
        return taken
    first = consumer.poll(wait)
    if first is None:
        return []
    return [first, *consumer.consume(limit - 1, timeout=0)] if limit > 1 else [first]


def ensure_topics(bootstrap: str, names: list[str], partitions: int, timeout: float = 30.0) -> None:
    """Creates the topics that do not exist yet; existing ones are left as they are."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names]
    missing = [t for t in wanted if t.topic not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as e:
            if e.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise RuntimeError(f"could not create topic {name}: {e}") from e
