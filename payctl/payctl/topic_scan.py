"""Reads every payment topic and its dead-letter topic from the beginning, as a fresh consumer
group that commits nothing, up to the end offsets seen when the scan starts: what the audit holds
the payments' event chains against."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from paykit.kafka import take_available
from payment_events.catalog import CATALOG
from payment_events.codec import DecodeError

if TYPE_CHECKING:
    from confluent_kafka import Message

    from payment_events.codec import Codec
    from payment_events.events import Event

# One poll's worth; the scan ends when every partition reached its end offset.
BATCH = 1000


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    key: str | None
    headers: dict[str, str]


@dataclass
class TopicScan:
    # payment id -> event type name -> distinct event ids seen (a republished copy of an event
    # carries the same id, a second handling a fresh one)
    events: dict[str, dict[str, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    # payment id -> the events themselves, one per event id, for checks on their payloads
    payloads: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    dead_letters: list[DeadLetter] = field(default_factory=list)
    undecodable: list[str] = field(default_factory=list)  # "topic[partition]@offset: error"
    messages: int = 0
    copies: int = 0  # messages whose event id was already seen: the relay published twice


def scan_topics(bootstrap: str, codec: Codec, timeout: float = 120.0) -> TopicScan:
    topics = [name for t in CATALOG for name in (t.name, t.dead_letter)]
    dead_letter_topics = {t.dead_letter for t in CATALOG}
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"audit-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
        }
    )
    scan = TopicScan()
    seen: set[str] = set()
    try:
        ends = _end_offsets(consumer, topics, timeout)
        remaining = {tp: end for tp, end in ends.items() if end > 0}
        # Assigned, not subscribed: no group join to wait for, and nothing is ever committed.
        consumer.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in remaining])
        deadline = time.monotonic() + timeout
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"topics not read to their end within {timeout:.0f}s")
            for msg in take_available(consumer, BATCH, 1.0):
                if msg.error() is not None:
                    continue  # a transient broker error; the offsets below decide when we stop
                topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
                assert topic is not None
                assert partition is not None
                assert offset is not None
                where = (topic, partition)
                if where in remaining and offset + 1 >= remaining[where]:
                    del remaining[where]
                if offset >= ends.get(where, 0):
                    continue  # written after the scan began
                scan.messages += 1
                if topic in dead_letter_topics:
                    scan.dead_letters.append(_dead_letter(topic, msg))
                    continue
                try:
                    event = codec.decode(msg.value())
                except DecodeError as e:
                    scan.undecodable.append(f"{topic}[{partition}]@{offset}: {e}")
                    continue
                if event.event_id in seen:
                    scan.copies += 1
                    continue
                seen.add(event.event_id)
                scan.events[event.payment_id][type(event).__name__].add(event.event_id)
                scan.payloads[event.payment_id].append(event)
    finally:
        consumer.close()
    return scan


def _end_offsets(
    consumer: Consumer, topics: list[str], timeout: float
) -> dict[tuple[str, int], int]:
    metadata = consumer.list_topics(timeout=timeout)
    ends: dict[tuple[str, int], int] = {}
    for topic in topics:
        described = metadata.topics.get(topic)
        if described is None:
            continue  # never created: nothing to read
        for partition in described.partitions:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout
            )
            ends[(topic, partition)] = int(high)
    return ends


def _dead_letter(topic: str, msg: Message) -> DeadLetter:
    key = msg.key()
    raw = msg.headers() or []
    # A consumed message's headers are a list of (name, bytes) pairs.
    pairs = raw.items() if isinstance(raw, dict) else raw
    headers = {
        name: value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        for name, value in pairs
    }
    return DeadLetter(topic, key.decode(errors="replace") if key else None, headers)
