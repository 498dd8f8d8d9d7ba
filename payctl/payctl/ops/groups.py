"""The consumer groups of the system: which service each belongs to, the topics it reads and the
database it owns, and who is in a group right now."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from confluent_kafka import ConsumerGroupState, KafkaException, TopicPartition

from payctl.errors import OpsError
from payctl.services import CONSUMER_SERVICES
from payment_events.catalog import topics_consumed_by

if TYPE_CHECKING:
    from collections.abc import Sequence

    from confluent_kafka.admin import AdminClient

    from payctl.ops.target import Target

Partition = tuple[str, int]

# The database each consumer service keeps its inbox, outbox and retry schedule in.
DATABASE_OF = {
    "bff-projector": "bff",
    "billing-consumer": "billing",
    "order-consumer": "orders",
    "capture-consumer": "capture",
}
# The catalog names the BFF as the consumer; its projector process is the one that consumes.
CATALOG_NAME = {"bff-projector": "bff"}


@dataclass(frozen=True)
class ConsumerGroup:
    service: str

    @property
    def group_id(self) -> str:
        # The services' group is their name (CONSUMER_GROUP unset: paykit.settings).
        return self.service

    @property
    def database(self) -> str:
        return DATABASE_OF[self.service]

    @property
    def topics(self) -> list[str]:
        return topics_consumed_by(CATALOG_NAME.get(self.service, self.service))


GROUPS: tuple[ConsumerGroup, ...] = tuple(ConsumerGroup(s) for s in CONSUMER_SERVICES)


def group_named(name: str) -> ConsumerGroup:
    for group in GROUPS:
        if name in (group.service, group.group_id):
            return group
    known = ", ".join(g.service for g in GROUPS)
    raise OpsError(f"unknown consumer group {name!r}: the groups are {known}")


def live_members(admin: AdminClient, group: ConsumerGroup, timeout: float = 10.0) -> list[str]:
    """The members in the group now, as `client.id (host)`: each names its service instance
    (CONSUMER_INSTANCE_ID). Empty when no instance of the service is running."""
    [future] = admin.describe_consumer_groups([group.group_id], request_timeout=timeout).values()
    try:
        described = future.result(timeout)
    except KafkaException as e:
        raise OpsError(f"cannot describe the group {group.group_id}: {e.args[0].str()}") from None
    if described.state in (ConsumerGroupState.EMPTY, ConsumerGroupState.DEAD):
        return []
    return sorted(f"{m.client_id} ({m.host})" for m in described.members)


def committed_offsets(
    target: Target, group: ConsumerGroup, partitions: Sequence[Partition], timeout: float = 10.0
) -> dict[Partition, int | None]:
    """The group's committed offset of each partition; None where it has committed nothing."""
    # A consumer configured with the group's id only asks for its offsets (OffsetFetch); it is
    # never subscribed, so it does not join the group.
    asking = target.consumer(group.group_id)
    try:
        answered = asking.committed([TopicPartition(t, p) for t, p in partitions], timeout=timeout)
    except KafkaException as e:
        raise OpsError(
            f"cannot read the committed offsets of {group.group_id}: {e.args[0].str()}"
        ) from None
    finally:
        asking.close()
    return {(tp.topic, tp.partition): tp.offset if tp.offset >= 0 else None for tp in answered}
