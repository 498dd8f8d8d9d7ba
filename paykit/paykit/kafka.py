"""librdkafka configuration for producers and consumers, and topic creation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

if TYPE_CHECKING:
    import threading

    from confluent_kafka import Consumer, Message, TopicPartition

# With resting on (`rest`), a poll waits only this long before the consumer rests. Shorter
# spins less (an idle stack: 86% of a core at 20 ms, 40% at 5 ms, 194% without resting) but a
# fetch answered after the window is dropped by the pause and asked again a rest later: on a
# loaded machine a short window would keep delaying messages.
RESTING_POLL_SECONDS = 0.02


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


def rest(consumer: Consumer, seconds: float, stop: threading.Event) -> None:
    """Stops fetching for `seconds` (or until `stop`), for a consumer that found nothing to take.

    For brokers that answer a fetch with no data at once instead of holding it up to
    fetch.wait.max.ms (the embedded noida-db broker): librdkafka then fetches again at once, and
    an idle consumer and its broker spin at most of a core each. Paused partitions are not
    fetched; their prefetched messages are dropped and fetched again from the application's
    position on resume, and nothing was prefetched when this is called. A resume alone waits
    for the fetcher's next one-second tick; a watermark query wakes it at once. The query goes
    to the first partition's leader: one broker, which is what the embedded stack runs.

    Costs latency only, never a message: a fetch answered after the poll window that follows a
    rest is dropped by the next pause and fetched again a rest later (from the position of the
    last message returned). So it does not rest while librdkafka knows of messages it has not
    returned (`waiting`); on a partition with nothing returned since it was assigned that is
    unknown, and a message there can wait a few rests on a loaded machine.
    """
    assigned = consumer.assignment()
    if not assigned:
        stop.wait(seconds)
        return
    if waiting(consumer, assigned):
        return
    consumer.pause(assigned)
    try:
        stop.wait(seconds)
    finally:
        consumer.resume(assigned)
    if stop.is_set():
        return
    try:
        consumer.get_watermark_offsets(assigned[0], timeout=1.0, cached=False)
    except KafkaException:
        pass  # the broker is away: the fetcher's own tick resumes fetching once it is back


def waiting(consumer: Consumer, partitions: list[TopicPartition]) -> bool:
    """Whether a partition has messages past the last one returned, as far as librdkafka knows
    (its cached high watermark comes with every fetch answer, even one a pause dropped).
    Partitions with nothing returned since they were assigned have no position and count as
    not waiting."""
    for position in consumer.position(partitions):
        if position.offset < 0:
            continue
        _, high = consumer.get_watermark_offsets(position, cached=True)
        if high > position.offset:
            return True
    return False


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
