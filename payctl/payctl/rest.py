"""When a stack has come to rest: every payment the BFF accepted is settled, no service holds an
unpublished outbox row or a message parked for a later try, and every consumer group has
committed up to the end of the topics it reads. Only then does the audit look: a payment can be
settled in the BFF while work it caused is still on its way (billing voids after the BFF already
shows FAILED).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import psycopg
from confluent_kafka import Consumer, TopicPartition

from payctl.audit_rules import IN_FLIGHT
from payctl.embedded import wait_for
from payctl.ops.groups import GROUPS

if TYPE_CHECKING:
    from collections.abc import Collection

    from payctl.stack import Stack


def settled(bff_database_url: str, payment_ids: Collection[str]) -> int:
    """How many of `payment_ids` the BFF shows settled."""
    with _read_only(bff_database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM payments WHERE payment_id = ANY(%s) AND status <> ALL(%s)",
            (list(payment_ids), sorted(IN_FLIGHT)),
        ).fetchone()
    assert row is not None
    return int(row[0])


def still_moving(stack: Stack) -> list[str]:
    """What keeps the stack from rest; empty when it is at rest."""
    moving: list[str] = []
    for group in GROUPS:
        service = group.service
        with _read_only(stack.database_url(group.database)) as conn:
            for table, unfinished in (
                ("outbox", "published_at IS NULL"),
                ("retry_schedule", "true"),
            ):
                row = conn.execute(f"SELECT count(*) FROM {table} WHERE {unfinished}").fetchone()
                if row and row[0]:
                    moving.append(f"{service}: {row[0]} rows in {table}")
    moving += _lagging_groups(stack.bootstrap)
    return moving


def wait_at_rest(stack: Stack, payment_ids: Collection[str], timeout: float) -> None:
    """Waits until every one of `payment_ids` is settled and the stack is at rest; the
    TimeoutError says what was still moving."""
    url = stack.database_url("bff")
    try:
        wait_for(
            lambda: settled(url, payment_ids) == len(payment_ids) and not still_moving(stack),
            timeout,
            "the stack at rest",
            interval=0.5,
        )
    except TimeoutError:
        raise TimeoutError(
            f"not at rest after {timeout:.0f}s: {settled(url, payment_ids)} of "
            f"{len(payment_ids)} payments settled; still moving: {still_moving(stack)}"
        ) from None


def _lagging_groups(bootstrap: str) -> list[str]:
    lagging: list[str] = []
    for group in GROUPS:
        topics = group.topics
        # Not subscribed: asking for the group's committed offsets does not join the group.
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group.group_id})
        try:
            metadata = consumer.list_topics(timeout=10)
            partitions = [
                TopicPartition(topic, p)
                for topic in topics
                for p in metadata.topics[topic].partitions
            ]
            for tp in consumer.committed(partitions, timeout=10):
                _low, high = consumer.get_watermark_offsets(tp, timeout=10)
                behind = high - max(tp.offset, 0)
                if behind > 0:
                    lagging.append(
                        f"{group.service}: {behind} behind on {tp.topic}[{tp.partition}]"
                    )
        finally:
            consumer.close()
    return lagging


def _read_only(url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(url, options="-c default_transaction_read_only=on")
