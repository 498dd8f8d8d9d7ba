"""What a replay does: move a consumer group's committed offsets back, so its service handles
again what it already consumed, while no instance of the service runs.

Nothing here can make a second side effect. Every handler claims its event's inbox row in the
transaction of its state change, so a re-delivered event the service's database already holds
changes nothing; only what the database is missing (restored from a backup, say) is applied.
The replay also tells the service which messages were re-delivered (`paykit.replays`): for
those its handlers ask the provider what it did before asking it to act again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from sqlalchemy.exc import SQLAlchemyError

from payctl.errors import OpsError
from payctl.ops.groups import committed_offsets, live_members
from payctl.ops.topic_ranges import end_offsets, read_ranges
from paykit.db import make_engine
from paykit.replays import record_replay

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import datetime

    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient

    from payctl.ops.groups import ConsumerGroup
    from payctl.ops.target import Target

TIMEOUT_SECONDS = 30.0


@dataclass
class PartitionReplay:
    topic: str
    partition: int
    committed: int | None  # None: the group never committed here, and reads it from the start
    target: int
    end: int
    messages: int = 0
    payments: int = 0

    @property
    def moves(self) -> bool:
        """Only ever back: moving a group forward would skip messages it has not handled."""
        return self.committed is not None and self.target < self.committed


@dataclass
class ReplayPlan:
    group: ConsumerGroup
    partitions: list[PartitionReplay]
    payments: set[str] = field(default_factory=set)  # distinct keys re-delivered

    @property
    def moving(self) -> list[PartitionReplay]:
        return [p for p in self.partitions if p.moves]

    @property
    def messages(self) -> int:
        return sum(p.messages for p in self.partitions)


def plan_replay(
    target: Target,
    admin: AdminClient,
    group: ConsumerGroup,
    *,
    topics: Collection[str],
    partitions: Collection[int],
    offset: int | None = None,
    start: datetime | None = None,
) -> ReplayPlan:
    """Where each chosen partition would go back to (`offset`, or the first message at or after
    `start`), and what would be re-delivered: read, to count its messages and payments."""
    unknown = sorted(set(topics) - set(group.topics))
    if unknown:
        raise OpsError(
            f"{group.service} does not read {', '.join(unknown)}: "
            f"it reads {', '.join(group.topics)}"
        )
    reader = target.consumer(f"payctl-replay-{uuid.uuid4().hex[:8]}")
    try:
        ranges = end_offsets(admin, reader, topics or group.topics, TIMEOUT_SECONDS)
        missing = sorted(set(partitions) - {p for _, p in ranges})
        if missing:
            have = sorted({p for _, p in ranges})
            raise OpsError(f"no partition {missing} in these topics: they have {have}")
        chosen = sorted(tp for tp in ranges if not partitions or tp[1] in partitions)
        committed = committed_offsets(target, group, chosen)
        targets = _targets(reader, ranges, chosen, offset, start)
        plan = ReplayPlan(
            group,
            [
                PartitionReplay(t, p, committed[(t, p)], targets[(t, p)], ranges[(t, p)][1])
                for t, p in chosen
            ],
        )
        _count(reader, plan)
    finally:
        reader.close()
    return plan


def apply_replay(target: Target, admin: AdminClient, plan: ReplayPlan) -> None:
    """Marks the re-delivered messages in the service's database, then moves the offsets. Both
    are refused while an instance of the service runs; a failure between the two leaves marks
    for messages that are not re-delivered, which only makes their handlers ask the provider."""
    refuse_while_running(admin, plan.group)
    moving = plan.moving
    if not moving:
        return
    _mark_redelivered(target, admin, plan)
    request = ConsumerGroupTopicPartitions(
        plan.group.group_id, [TopicPartition(p.topic, p.partition, p.target) for p in moving]
    )
    [future] = admin.alter_consumer_group_offsets([request]).values()
    try:
        future.result(TIMEOUT_SECONDS)
    except KafkaException as e:
        raise OpsError(
            f"the broker refused to move {plan.group.group_id}'s offsets ({e.args[0].str()}); "
            "is an instance of the service running? Nothing was moved"
        ) from None


def _mark_redelivered(target: Target, admin: AdminClient, plan: ReplayPlan) -> None:
    """Every message now in the chosen partitions counts as re-delivered, not only those below
    the committed offsets: a service that stops drops the messages it had queued, uncommitted,
    while it may have handled later ones of the same partition, and those later ones are
    delivered again too (and a restored database no longer knows them)."""
    reader = target.consumer(f"payctl-replay-{uuid.uuid4().hex[:8]}")
    try:
        ranges = end_offsets(admin, reader, {p.topic for p in plan.partitions}, TIMEOUT_SECONDS)
    finally:
        reader.close()
    marks = {(p.topic, p.partition): ranges[(p.topic, p.partition)][1] for p in plan.partitions}
    engine = make_engine(target.database_url(plan.group.database), pool_size=1)
    try:
        with engine.begin() as conn:
            record_replay(conn, marks)
    except SQLAlchemyError as e:
        raise OpsError(
            f"cannot record the replay in the {plan.group.database} database: "
            f"{str(e).splitlines()[0]}; nothing was moved"
        ) from None
    finally:
        engine.dispose()


def refuse_while_running(admin: AdminClient, group: ConsumerGroup) -> None:
    members = live_members(admin, group)
    if members:
        raise OpsError(
            f"{group.service} is running: its group {group.group_id} has live members "
            f"{', '.join(members)}. Stop every instance of the service first; nothing was changed"
        )


def _targets(
    reader: Consumer,
    ranges: dict[tuple[str, int], tuple[int, int]],
    chosen: list[tuple[str, int]],
    offset: int | None,
    start: datetime | None,
) -> dict[tuple[str, int], int]:
    if offset is not None:
        return {tp: min(max(offset, ranges[tp][0]), ranges[tp][1]) for tp in chosen}
    assert start is not None
    millis = int(start.timestamp() * 1000)
    try:
        found = reader.offsets_for_times(
            [TopicPartition(t, p, millis) for t, p in chosen], timeout=TIMEOUT_SECONDS
        )
    except KafkaException as e:
        raise OpsError(f"cannot look up offsets by time: {e.args[0].str()}") from None
    # -1: no message at or after `start` in that partition; nothing there to re-deliver.
    return {
        (tp.topic, tp.partition): ranges[(tp.topic, tp.partition)][1]
        if tp.offset < 0
        else tp.offset
        for tp in found
    }


def _count(reader: Consumer, plan: ReplayPlan) -> None:
    by_partition = {(p.topic, p.partition): p for p in plan.moving}
    keys: dict[tuple[str, int], set[bytes]] = {tp: set() for tp in by_partition}
    ranges = {tp: (p.target, p.committed or 0) for tp, p in by_partition.items()}
    for msg in read_ranges(reader, ranges, what="reading what the replay re-delivers"):
        where = (msg.topic() or "", msg.partition() or 0)
        by_partition[where].messages += 1
        key = msg.key()
        if key:
            keys[where].add(key)
    for where, found in keys.items():
        by_partition[where].payments = len(found)
        plan.payments.update(k.decode(errors="replace") for k in found)
