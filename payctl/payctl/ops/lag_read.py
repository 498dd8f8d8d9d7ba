"""How far behind each consumer group is: per partition it reads, the group's committed offset,
the partition's high watermark, and how long the oldest message it has not handled has waited.
Read as an outsider: the reading consumer is only assigned partitions, so it never joins (and
never disturbs) the group it measures."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from confluent_kafka import OFFSET_BEGINNING, TIMESTAMP_NOT_AVAILABLE, KafkaException
from confluent_kafka import TopicPartition as KafkaPartition
from confluent_kafka.admin import OffsetSpec  # type: ignore[attr-defined]

from payctl.errors import OpsError
from payctl.ops.groups import committed_offsets, live_members
from paykit.kafka import take_available

if TYPE_CHECKING:
    from collections.abc import Sequence

    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient

    from payctl.ops.groups import ConsumerGroup
    from payctl.ops.target import Target

TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group has committed nothing here yet
    end: int  # the high watermark: the offset the next message will get
    lag: int
    oldest_at: datetime | None  # when the oldest unhandled message was produced; None at lag 0

    def oldest_age_seconds(self, now: datetime) -> float | None:
        return None if self.oldest_at is None else max(0.0, (now - self.oldest_at).total_seconds())


@dataclass(frozen=True)
class GroupLag:
    group: ConsumerGroup
    members: int
    partitions: list[PartitionLag]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)


def read_lag(target: Target, groups: Sequence[ConsumerGroup]) -> list[GroupLag]:
    admin = target.admin()
    topics = admin.list_topics(timeout=TIMEOUT_SECONDS).topics
    wanted = sorted({t for g in groups for t in g.topics if t in topics})
    partitions = [KafkaPartition(t, p) for t in wanted for p in sorted(topics[t].partitions)]
    ends = _offsets(admin, partitions, OffsetSpec.latest())  # type: ignore[no-untyped-call]
    # Retention may have deleted what a group never read: its lag starts at the log start.
    starts = _offsets(admin, partitions, OffsetSpec.earliest())  # type: ignore[no-untyped-call]
    reader = target.consumer(f"payctl-lag-{time.monotonic_ns()}")
    try:
        measured = []
        for group in groups:
            own = [tp for tp in partitions if tp.topic in group.topics]
            committed = committed_offsets(target, group, [(t.topic, t.partition) for t in own])
            rows = []
            for tp in own:
                where = (tp.topic, tp.partition)
                done = committed.get(where)
                next_unread = max(done if done is not None else 0, starts[where])
                rows.append((tp.topic, tp.partition, done, ends[where], next_unread))
            oldest = _timestamps_at(reader, [(t, p, n) for t, p, _c, end, n in rows if n < end])
            measured.append(
                GroupLag(
                    group,
                    len(live_members(admin, group)),
                    [
                        PartitionLag(t, p, c, end, max(0, end - n), oldest.get((t, p)))
                        for t, p, c, end, n in rows
                    ],
                )
            )
        return measured
    finally:
        reader.close()


def _offsets(
    admin: AdminClient, partitions: list[KafkaPartition], spec: OffsetSpec
) -> dict[tuple[str, int], int]:
    if not partitions:
        return {}
    futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=TIMEOUT_SECONDS)
    try:
        return {
            (tp.topic, tp.partition): int(f.result(TIMEOUT_SECONDS).offset)
            for tp, f in futures.items()
        }
    except KafkaException as e:
        raise OpsError(f"cannot read the topics' offsets: {e.args[0].str()}") from None


def _timestamps_at(
    reader: Consumer, places: list[tuple[str, int, int]]
) -> dict[tuple[str, int], datetime]:
    """The timestamp of the message at each (topic, partition, offset): one message read from
    each place, all partitions fetched at once."""
    if not places:
        return {}
    reader.assign([KafkaPartition(t, p, o if o >= 0 else OFFSET_BEGINNING) for t, p, o in places])
    waiting = {(t, p): o for t, p, o in places}
    found: dict[tuple[str, int], datetime] = {}
    deadline = time.monotonic() + TIMEOUT_SECONDS
    try:
        while waiting and time.monotonic() < deadline:
            for msg in take_available(reader, 500, 0.2):
                topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
                if msg.error() is not None or topic is None or partition is None:
                    continue
                if (topic, partition) not in waiting or offset is None:
                    continue
                kind, millis = msg.timestamp()
                if kind != TIMESTAMP_NOT_AVAILABLE:
                    found[(topic, partition)] = datetime.fromtimestamp(millis / 1000, UTC)
                del waiting[(topic, partition)]
                reader.pause([KafkaPartition(topic, partition)])
    finally:
        reader.unassign()
    return found
