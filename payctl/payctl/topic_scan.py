"""Reads every payment topic and its dead-letter topic, as a fresh consumer group that commits
nothing, up to the end offsets seen when the scan starts: what the audit holds the payments'
event chains against. From the beginning, or for a window of time from a little before it
starts (`Window`)."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from paykit.kafka import take_available
from payment_events.catalog import CATALOG
from payment_events.codec import DecodeError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from confluent_kafka import Message

    from payment_events.codec import Codec
    from payment_events.events import Event

    # Wraps the messages as they are read, told how many there are (a progress bar).
    Watch = Callable[[Iterable[Message], int], Iterable[Message]]

# One poll's worth; the scan ends when every partition reached its end offset.
BATCH = 1000
# A payment's events are published after the BFF accepted it, but by relays in other processes,
# perhaps on other hosts: reading from this long before the window starts covers clocks that
# disagree by up to as much.
CLOCK_MARGIN = timedelta(minutes=2)

Where = tuple[str, int]  # (topic, partition)


@dataclass(frozen=True)
class Window:
    """A range of time, start included, end excluded; None on either side leaves it open."""

    start: datetime | None = None
    end: datetime | None = None

    @property
    def everything(self) -> bool:
        return self.start is None and self.end is None

    def holds(self, at: datetime) -> bool:
        return (self.start is None or at >= self.start) and (self.end is None or at < self.end)


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: str | None
    headers: dict[str, str]

    @property
    def id(self) -> str:
        """`<dead-letter topic>:<partition>:<offset>`, as payctl dlq names it."""
        return f"{self.topic}:{self.partition}:{self.offset}"


@dataclass
class TopicScan:
    # payment id -> event type name -> distinct event ids seen (a republished copy of an event
    # carries the same id, a second handling a fresh one)
    events: dict[str, dict[str, set[str]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(set))
    )
    # payment id -> the events themselves, one per event id, for checks on their payloads
    payloads: dict[str, list[Event]] = field(default_factory=lambda: defaultdict(list))
    # payment id -> when its first event read was written (the broker's timestamp)
    first_at: dict[str, datetime] = field(default_factory=dict)
    dead_letters: list[DeadLetter] = field(default_factory=list)  # written in the window
    undecodable: list[str] = field(default_factory=list)  # "topic[partition]@offset: error"
    messages: int = 0
    copies: int = 0  # messages whose event id was already seen: the relay published twice


def scan_topics(
    bootstrap: str,
    codec: Codec,
    timeout: float = 120.0,
    *,
    window: Window | None = None,
    watch: Watch | None = None,
) -> TopicScan:
    """Every event on the topics (from CLOCK_MARGIN before `window` starts, when it has a start),
    to the end offsets seen now: a payment accepted in the window may have events after it ends.
    Dead letters and undecodable messages only when they were written in the window."""
    window = window or Window()
    topics = [name for t in CATALOG for name in (t.name, t.dead_letter)]
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"audit-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            # Should retention have removed a start offset in the meantime: the oldest left.
            "auto.offset.reset": "earliest",
        }
    )
    reader = _Reader(codec, window)
    try:
        ends, total = _bounds(consumer, topics, window, timeout)
        messages = _until_ends(consumer, ends, timeout)
        for msg in watch(messages, total) if watch else messages:
            reader.take(msg)
    finally:
        consumer.close()
    return reader.scan


def _bounds(
    consumer: Consumer, topics: list[str], window: Window, timeout: float
) -> tuple[dict[Where, int], int]:
    """Assigns each partition that has something to read at its start offset; its end offset
    (the high watermark now) and how many messages lie between, in all."""
    metadata = consumer.list_topics(timeout=timeout)
    ends: dict[Where, int] = {}
    lows: dict[Where, int] = {}
    for topic in topics:
        described = metadata.topics.get(topic)
        if described is None:
            continue  # never created: nothing to read
        for partition in described.partitions:
            low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout
            )
            ends[(topic, partition)], lows[(topic, partition)] = int(high), int(low)
    firsts = dict(lows)
    if window.start is not None:
        since = int((window.start - CLOCK_MARGIN).timestamp() * 1000)
        asked = [TopicPartition(t, p, since) for t, p in ends]
        for tp in consumer.offsets_for_times(asked, timeout=timeout):
            where = (tp.topic, tp.partition)
            # -1: nothing written since then, nothing to read there.
            firsts[where] = tp.offset if tp.offset >= 0 else ends[where]
    assigned = {where: first for where, first in firsts.items() if first < ends[where]}
    # Assigned, not subscribed: no group join to wait for, and nothing is ever committed. From
    # the beginning rather than the low watermark, which retention may move meanwhile.
    consumer.assign(
        [
            TopicPartition(t, p, OFFSET_BEGINNING if window.start is None else first)
            for (t, p), first in assigned.items()
        ]
    )
    total = sum(ends[where] - first for where, first in assigned.items())
    return {w: ends[w] for w in assigned}, total


def _until_ends(consumer: Consumer, ends: dict[Where, int], timeout: float) -> Iterator[Message]:
    """The messages of the assigned partitions below their end offsets."""
    remaining = dict(ends)
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
            if offset < ends.get(where, 0):  # else written after the scan began
                yield msg


class _Reader:
    """Sorts the messages read into a TopicScan."""

    def __init__(self, codec: Codec, window: Window) -> None:
        self.scan = TopicScan()
        self._codec = codec
        self._window = window
        self._seen: set[str] = set()
        self._dead_letter_topics = {t.dead_letter for t in CATALOG}

    def take(self, msg: Message) -> None:
        scan = self.scan
        scan.messages += 1
        topic = msg.topic()
        assert topic is not None
        at = _written_at(msg)
        if topic in self._dead_letter_topics:
            if self._window.holds(at):
                scan.dead_letters.append(_dead_letter(topic, msg))
            return
        try:
            event = self._codec.decode(msg.value())
        except DecodeError as e:
            if self._window.holds(at):
                scan.undecodable.append(f"{topic}[{msg.partition()}]@{msg.offset()}: {e}")
            return
        if event.event_id in self._seen:
            scan.copies += 1
            return
        self._seen.add(event.event_id)
        scan.events[event.payment_id][type(event).__name__].add(event.event_id)
        scan.payloads[event.payment_id].append(event)
        first = scan.first_at.get(event.payment_id)
        scan.first_at[event.payment_id] = at if first is None else min(first, at)


def _written_at(msg: Message) -> datetime:
    _kind, millis = msg.timestamp()
    return datetime.fromtimestamp(millis / 1000, UTC)


def _dead_letter(topic: str, msg: Message) -> DeadLetter:
    key = msg.key()
    raw = msg.headers() or []
    # A consumed message's headers are a list of (name, bytes) pairs.
    pairs = raw.items() if isinstance(raw, dict) else raw
    headers = {
        name: value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        for name, value in pairs
    }
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None
    assert offset is not None
    return DeadLetter(
        topic, partition, offset, key.decode(errors="replace") if key else None, headers
    )
