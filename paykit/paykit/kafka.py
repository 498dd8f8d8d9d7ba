"""librdkafka configuration for producers and consumers, and topic creation."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
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
        # KIP-848 (docs/failure-modes.md, "Consumer groups"): the broker assigns partitions and
        # moves only those that must move, without stopping the group; the session timeout and
        # heartbeat interval are the broker's (group.consumer.*), not the client's. Members are
        # dynamic: one that closes leaves at once and its partitions go to the others.
        "group.protocol": "consumer",
        # The broker holds an empty fetch this long and answers as soon as a message arrives,
        # so steady-state latency does not depend on it; every answer to an idle consumer costs
        # the broker (idle stack: broker 3.8-4.0 % of a core at Kafka's 500 ms, 2.5-2.6 % at
        # 2 s, 2.4-2.5 % at 5 s; 5 s made the test suite minutes slower).
        # The cost: a partition that becomes fetchable while a fetch is out (just assigned)
        # waits for that fetch to come back, up to this long.
        "fetch.wait.max.ms": 2000,
        "max.poll.interval.ms": 300000,
    }


def take_available(
    consumer: Consumer, limit: int, wait: float, linger: float = 0.0
) -> list[Message]:
    """Up to `limit` messages: those already fetched, or else the first to arrive within `wait`
    seconds with whatever came along with it. Never waits for a batch to fill unless asked:
    librdkafka's consume(n, timeout) does, which held every lightly loaded hop back by up to
    `timeout`. With `linger`, once there is a message, also what arrives within `linger` seconds
    (up to `limit`): a batch that costs one transaction whatever its size trades that much
    latency for fewer, fuller batches."""
    if limit < 1:
        return []
    taken: list[Message] = consumer.consume(limit, timeout=0)
    if not taken:
        first = consumer.poll(wait)
        if first is None:
            return []
        taken = [first]
        if not linger and limit > 1:
            taken += consumer.consume(limit - 1, timeout=0)
    if linger and len(taken) < limit:
        taken += consumer.consume(limit - len(taken), timeout=linger)
    return taken


def ensure_topics(
    bootstrap: str,
    names: list[str],
    partitions: int,
    timeout: float = 30.0,
    *,
    replication_factor: int = 1,
) -> None:
    """Creates the topics that do not exist yet; existing ones are left as they are (their
    partitions and replicas too)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [
        NewTopic(n, num_partitions=partitions, replication_factor=replication_factor) for n in names
    ]
    missing = [t for t in wanted if t.topic not in existing]
    if not missing:
        return
    for name, future in admin.create_topics(missing, operation_timeout=timeout).items():
        try:
            future.result(timeout)
        except KafkaException as e:
            if e.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise RuntimeError(f"could not create topic {name}: {e}") from e
    _wait_for_leaders(admin, [t.topic for t in missing], timeout)


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout: float) -> None:
    """Kafka answers a creation before the new partitions' leader serves them; until it does a
    produce or an offset query is refused (NOT_LEADER_FOR_PARTITION). Asks each partition's
    latest offset until every one answers."""
    deadline = time.monotonic() + timeout
    latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    while True:
        topics = admin.list_topics(timeout=timeout).topics
        partitions = [
            TopicPartition(n, p) for n in names if n in topics for p in topics[n].partitions
        ]
        if all(n in topics and topics[n].partitions for n in names) and _all_answer(
            admin.list_offsets({tp: latest for tp in partitions}), timeout
        ):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"topics {names} not served by a leader after {timeout:.0f}s")
        time.sleep(0.05)


def _all_answer(futures: dict[TopicPartition, Any], timeout: float) -> bool:
    answered = True
    for future in futures.values():
        try:
            future.result(timeout)
        except KafkaException:
            answered = False
    return answered
