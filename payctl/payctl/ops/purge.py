"""Deleting old dead letters. Kafka deletes records only as a prefix of a partition
(`DeleteRecords` moves its first offset), so a purge cuts each partition before its first dead
letter that failed at or after the given time, or at its end offset seen at the start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaException, TopicPartition

from payctl.errors import OpsError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from confluent_kafka.admin import AdminClient

    from payctl.ops.dead_letter_store import DeadLetter
    from payctl.ops.redrive import Ledger
    from payctl.ops.topic_ranges import Ranges


@dataclass(frozen=True)
class PartitionCut:
    topic: str
    partition: int
    first: int  # the partition's first offset now
    cut: int  # records before this offset go
    not_redriven: int  # of those, dead letters no re-drive has put back

    @property
    def records(self) -> int:
        return max(0, self.cut - self.first)

    def row(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "first_offset": self.first,
            "delete_before": self.cut,
            "records": self.records,
            "not_redriven": self.not_redriven,
        }


def plan_purge(
    letters: Sequence[DeadLetter], ranges: Ranges, before: datetime | None, ledger: Ledger
) -> list[PartitionCut]:
    """Per partition of `ranges`, where to cut: before its first dead letter (in offset order)
    that failed at or after `before`, or at its end (every record) when `before` is None or no
    dead letter is that new. Nothing newer than `before` is ever deleted, even when an older one
    follows it."""
    by_partition: dict[tuple[str, int], list[DeadLetter]] = {}
    for letter in letters:
        where = (letter.position.topic, letter.position.partition)
        by_partition.setdefault(where, []).append(letter)
    cuts = []
    for (topic, partition), (first, end) in sorted(ranges.items()):
        held = sorted(by_partition.get((topic, partition), []), key=lambda d: d.position)
        cut = end
        if before is not None:
            newer = [
                d.position.offset for d in held if d.failed_at is None or d.failed_at >= before
            ]
            cut = newer[0] if newer else end
        gone = [d for d in held if first <= d.position.offset < cut]
        pending = sum(1 for d in gone if d.position not in ledger)
        cuts.append(PartitionCut(topic, partition, first, max(first, cut), pending))
    return cuts


def purge(admin: AdminClient, cuts: Sequence[PartitionCut], timeout: float = 30.0) -> None:
    """Deletes the records before each cut; the partitions with nothing to delete are left."""
    wanted = [TopicPartition(c.topic, c.partition, c.cut) for c in cuts if c.records]
    if not wanted:
        return
    failures = []
    for tp, future in admin.delete_records(
        wanted, request_timeout=timeout, operation_timeout=timeout
    ).items():
        try:
            future.result(timeout)
        except KafkaException as e:
            failures.append(f"{tp.topic}[{tp.partition}]: {e.args[0].str()}")
    if failures:
        raise OpsError("could not delete the records of " + "; ".join(failures))
