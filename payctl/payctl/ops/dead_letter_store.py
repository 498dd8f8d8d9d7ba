"""The dead letters on the broker: their ids (`<dead-letter topic>:<partition>:<offset>`), what
the consumer that gave up wrote in their headers (`paykit.dead_letters`), which of them an
operator asked for, and reading them from the beginning to the end offsets seen at the start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE

from payctl.errors import OpsError
from payctl.ops.topic_ranges import (
    READ_TIMEOUT_SECONDS,
    Position,
    Ranges,
    end_offsets,
    read_ranges,
)
from paykit.messages import Received
from payment_events.catalog import CATALOG

if TYPE_CHECKING:
    from collections.abc import Sequence

    from confluent_kafka import Message
    from confluent_kafka.admin import AdminClient

    from payctl.ops.target import Target

DLQ_HEADER_PREFIX = "dlq."
# The group id the reading consumer is configured with; it is only ever assigned, never joins.
READER_GROUP = "payctl-dlq"

# dead-letter topic -> the topic its messages came from
DEAD_LETTER_TOPICS: dict[str, str] = {t.dead_letter: t.name for t in CATALOG}


def dead_letter_topic(name: str) -> str:
    """The dead-letter topic an operator named, as `order-failed` or `order-failed.dlq`."""
    if name in DEAD_LETTER_TOPICS:
        return name
    if f"{name}.dlq" in DEAD_LETTER_TOPICS:
        return f"{name}.dlq"
    known = ", ".join(DEAD_LETTER_TOPICS)
    raise OpsError(f"unknown topic {name!r}: the dead-letter topics are {known}")


def dead_letter_position(text: str) -> Position:
    """A dead-letter id whose topic may be named without `.dlq`."""
    position = Position.parse(text)
    return Position(dead_letter_topic(position.topic), position.partition, position.offset)


def _text(value: str | bytes | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DeadLetter:
    position: Position
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, str | bytes | None]]
    timestamp: datetime | None  # Kafka's, when the dead letter was written

    @classmethod
    def of(cls, msg: Message) -> DeadLetter:
        received = Received.of(msg)
        kind, millis = msg.timestamp()
        stamp = (
            None if kind == TIMESTAMP_NOT_AVAILABLE else datetime.fromtimestamp(millis / 1000, UTC)
        )
        return cls(
            Position(received.topic, received.partition, received.offset),
            received.key,
            received.value,
            received.headers,
            stamp,
        )

    def header(self, name: str) -> str | None:
        # The last one wins: a message dead-lettered twice carries the later verdict last.
        found = None
        for k, v in self.headers:
            if k == name:
                found = _text(v)
        return found

    @property
    def payment_id(self) -> str | None:
        return _text(self.key)

    @property
    def error_code(self) -> str | None:
        return self.header("dlq.error.code")

    @property
    def service(self) -> str | None:
        return self.header("dlq.service")

    @property
    def original(self) -> Position:
        """Where the message was when it failed; its topic is the dead-letter topic's own base,
        whatever a damaged header says, so a re-drive never lands on another topic."""
        topic = DEAD_LETTER_TOPICS.get(
            self.position.topic, self.position.topic.removesuffix(".dlq")
        )
        partition, offset = (
            self.header("dlq.original.partition"),
            self.header("dlq.original.offset"),
        )
        return Position(
            topic,
            int(partition) if partition and partition.isdigit() else -1,
            int(offset) if offset and offset.isdigit() else -1,
        )

    @property
    def failed_at(self) -> datetime | None:
        return _time(self.header("dlq.failed_at")) or self.timestamp

    def summary(self) -> dict[str, Any]:
        attempts = self.header("dlq.attempts")
        return {
            "id": str(self.position),
            "payment_id": self.payment_id,
            "code": self.error_code,
            "message": self.header("dlq.error.message"),
            "service": self.service,
            "original": str(self.original),
            "attempts": int(attempts) if attempts and attempts.isdigit() else None,
            "failed_at": self.failed_at,
        }


@dataclass(frozen=True)
class Selection:
    """Which dead letters an operator asked for: each option's values are alternatives, the
    options together all have to hold. Nothing asked for selects every one."""

    ids: frozenset[Position] = frozenset()
    topics: frozenset[str] = frozenset()
    payments: frozenset[str] = frozenset()
    codes: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()

    @property
    def is_everything(self) -> bool:
        return not (self.ids or self.topics or self.payments or self.codes or self.services)

    def wanted_topics(self) -> list[str]:
        """The dead-letter topics worth reading for this selection."""
        named = self.topics | {p.topic for p in self.ids}
        return [t for t in DEAD_LETTER_TOPICS if not named or t in named]

    def matches(self, letter: DeadLetter) -> bool:
        return (
            (not self.ids or letter.position in self.ids)
            and (not self.topics or letter.position.topic in self.topics)
            and (not self.payments or letter.payment_id in self.payments)
            and (not self.codes or letter.error_code in self.codes)
            and (not self.services or letter.service in self.services)
        )


@dataclass(frozen=True)
class Scan:
    letters: list[DeadLetter]
    ranges: Ranges  # what was read: each partition's first and end offsets at the start


def read_dead_letters(target: Target, admin: AdminClient, topics: Sequence[str]) -> Scan:
    """Every dead letter of `topics` up to their end offsets now."""
    consumer = target.consumer(READER_GROUP)
    try:
        ranges = end_offsets(admin, consumer, topics, READ_TIMEOUT_SECONDS)
        letters = [DeadLetter.of(m) for m in read_ranges(consumer, ranges, what="dead letters")]
    finally:
        consumer.close()
    return Scan(letters, ranges)


def read_dead_letter(target: Target, admin: AdminClient, position: Position) -> DeadLetter:
    """The one dead letter at `position`; OpsError when there is none."""
    consumer = target.consumer(READER_GROUP)
    try:
        ranges = end_offsets(admin, consumer, [position.topic], READ_TIMEOUT_SECONDS)
        where = (position.topic, position.partition)
        held = ranges.get(where)
        if held is None:
            raise OpsError(f"no dead letter at {position}: {position.topic} has no such partition")
        first, end = held
        if not first <= position.offset < end:
            span = f"it holds offsets {first} to {end - 1}" if end > first else "it is empty"
            raise OpsError(f"no dead letter at {position}: {span}")
        one = {where: (position.offset, position.offset + 1)}
        for msg in read_ranges(consumer, one, what="dead letter"):
            return DeadLetter.of(msg)
        raise OpsError(f"no dead letter at {position}: the record was deleted or compacted away")
    finally:
        consumer.close()
