"""Reading a topic's records between two offsets per partition, with an assign-only consumer:
it joins no group and commits nothing, and stops at the end offsets seen at the start, so records
arriving meanwhile wait for the next run. `Position` names a record as `topic:partition:offset`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from confluent_kafka import KafkaException, TopicPartition

from payctl.errors import OpsError
from payctl.ops.output import progress
from paykit.kafka import take_available

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from confluent_kafka import Consumer, Message
    from confluent_kafka.admin import AdminClient

READ_TIMEOUT_SECONDS = 120.0
BATCH = 1000

Ranges = dict[tuple[str, int], tuple[int, int]]  # (topic, partition) -> [first, end)


@dataclass(frozen=True, order=True)
class Position:
    """Where a record is: `topic:partition:offset`, the form every dlq verb prints and takes."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> Position:
        topic, sep, rest = text.strip().partition(":")
        partition, sep2, offset = rest.partition(":")
        if not (topic and sep and sep2 and partition.isdigit() and offset.isdigit()):
            raise OpsError(
                f"malformed dead-letter id {text!r}: write TOPIC:PARTITION:OFFSET, "
                "e.g. order-failed.dlq:3:17 (as `payctl dlq list --messages` prints them)"
            )
        return cls(topic, int(partition), int(offset))


def end_offsets(
    admin: AdminClient, consumer: Consumer, topics: Iterable[str], timeout: float
) -> Ranges:
    """Each partition's first and end offsets now; a topic not created yet has none."""
    try:
        metadata = admin.list_topics(timeout=timeout)
        ranges: Ranges = {}
        for topic in topics:
            described = metadata.topics.get(topic)
            if described is None:
                continue
            for partition in sorted(described.partitions):
                low, high = consumer.get_watermark_offsets(
                    TopicPartition(topic, partition), timeout=timeout
                )
                ranges[(topic, partition)] = (int(low), int(high))
    except KafkaException as e:
        raise OpsError(
            f"cannot read the offsets of {', '.join(topics)}: {e.args[0].str()}"
        ) from None
    return ranges


def read_ranges(
    consumer: Consumer,
    ranges: Mapping[tuple[str, int], tuple[int, int]],
    *,
    what: str,
    timeout: float = READ_TIMEOUT_SECONDS,
) -> Iterator[Message]:
    """Every record in `ranges`, each partition's in offset order; records written after the
    ranges were taken are left for the next run."""
    remaining = {tp: end for tp, (start, end) in ranges.items() if end > start}
    if not remaining:
        return
    # Assigned, not subscribed: no group join to wait for, and nothing is ever committed.
    consumer.assign([TopicPartition(t, p, ranges[(t, p)][0]) for t, p in remaining])
    total = sum(end - ranges[tp][0] for tp, end in remaining.items())
    deadline = time.monotonic() + timeout
    try:
        yield from progress(
            _until_ends(consumer, remaining, deadline, timeout), total=total, what=what
        )
    finally:
        consumer.unassign()


def _until_ends(
    consumer: Consumer, remaining: dict[tuple[str, int], int], deadline: float, timeout: float
) -> Iterator[Message]:
    while remaining:
        if time.monotonic() > deadline:
            left = ", ".join(f"{t}[{p}]" for t, p in remaining)
            raise OpsError(f"could not read {left} to its end within {timeout:.0f}s")
        taken = take_available(consumer, BATCH, 1.0)
        for msg in taken:
            if msg.error() is not None:
                continue  # a transient broker error: the end offsets decide when we stop
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            assert topic is not None
            assert partition is not None
            assert offset is not None
            end = remaining.get((topic, partition))
            if end is None or offset >= end:
                continue  # written after the read began
            if offset + 1 >= end:
                del remaining[(topic, partition)]
            yield msg
        if not taken:
            # A compacted or purged log may have no record at its last offsets: the fetch
            # position past the end says the partition is done.
            for tp in consumer.position([TopicPartition(t, p) for t, p in remaining]):
                if tp.offset >= remaining[(tp.topic, tp.partition)]:
                    del remaining[(tp.topic, tp.partition)]
