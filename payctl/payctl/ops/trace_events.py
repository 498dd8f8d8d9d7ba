"""Finds one payment's messages on the topics without reading them from the start: only the
partition its key hashes to, and only the offsets whose timestamps fall in the windows around
the moments the services' rows say something happened to the payment."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, KafkaException
from confluent_kafka import TopicPartition as KafkaPartition

from payctl.errors import OpsError
from paykit.kafka import take_available
from paykit.messages import CAUSATION_ID, CORRELATION_ID
from payment_events.catalog import BY_RECORD_NAME, CATALOG
from payment_events.codec import DecodeError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from confluent_kafka import Consumer, Message

    from payctl.ops.target import Target
    from payment_events.codec import Codec

# Message timestamps are taken by the producing relay, rows' timestamps by a service or its
# database: the margin covers the clocks' skew and the relay's delay after the commit.
MARGIN = timedelta(seconds=60)
TIMEOUT_SECONDS = 10.0
BATCH = 2000


def partition_of(key: bytes, partitions: int) -> int:
    """The partition librdkafka's default partitioner (`consistent_random`) gives a keyed
    message: CRC-32 of the key modulo the partition count. Every service produces with it
    (paykit.kafka.producer_config sets no partitioner)."""
    return zlib.crc32(key) % partitions


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime | None  # None: to the end of the partition


def windows_around(moments: Iterable[datetime], *, open_ended: bool) -> list[Window]:
    """One window per moment, `MARGIN` either side, overlapping ones merged; the last one runs
    to the end of the topic when the payment may still be moving. A moment still to come (a
    retry's due time) counts as now: nothing can have been published later than that."""
    now = datetime.now(UTC)
    merged: list[Window] = []
    for moment in sorted(min(m, now) for m in moments):
        start, end = moment - MARGIN, moment + MARGIN
        if merged and merged[-1].end is not None and start <= merged[-1].end:
            merged[-1] = Window(merged[-1].start, max(merged[-1].end, end))
        else:
            merged.append(Window(start, end))
    if merged and open_ended:
        merged[-1] = Window(merged[-1].start, None)
    return merged


@dataclass(frozen=True)
class Found:
    """One message keyed by the payment."""

    topic: str
    partition: int
    offset: int
    at: datetime | None  # the message's timestamp
    event: str | None  # the event type; None when it does not decode
    event_id: str | None
    producer: str | None  # the service that produces this topic, from the catalog
    correlation_id: str | None
    causation_id: str | None
    headers: dict[str, str]
    error: str | None = None  # why it did not decode


@dataclass
class Read:
    found: list[Found] = field(default_factory=list)
    messages_read: int = 0
    ranges: list[tuple[str, int, int, int]] = field(default_factory=list)  # topic, p, from, to


def read_payment_messages(
    target: Target,
    codec: Codec,
    payment_id: str,
    windows: Sequence[Window],
    dead_letters_from: datetime,
) -> Read:
    """Every message keyed by `payment_id` on the payment topics (within `windows`) and on their
    dead-letter topics (from `dead_letters_from` to their end: they are small)."""
    key = payment_id.encode()
    reader = target.consumer(f"payctl-trace-{time.monotonic_ns()}", **{"fetch.wait.max.ms": 50})
    try:
        metadata = reader.list_topics(timeout=TIMEOUT_SECONDS).topics
        places = {}
        for topic in (name for t in CATALOG for name in (t.name, t.dead_letter)):
            if topic in metadata and metadata[topic].partitions:
                places[topic] = partition_of(key, len(metadata[topic].partitions))
        dead = {t.dead_letter for t in CATALOG}
        spans = {
            topic: [Window(dead_letters_from, None)] if topic in dead else list(windows)
            for topic in places
        }
        ranges = _offset_ranges(reader, places, spans)
        read = Read(ranges=[r for r in ranges if r[2] < r[3]])
        for msg in _messages_in(reader, read.ranges):
            read.messages_read += 1
            if msg.key() == key:
                read.found.append(_found(msg, codec, dead))
        return read
    except KafkaException as e:
        raise OpsError(f"cannot read the topics: {e.args[0].str()}") from None
    finally:
        reader.close()


def _offset_ranges(
    reader: Consumer, places: dict[str, int], spans: dict[str, list[Window]]
) -> list[tuple[str, int, int, int]]:
    """Each topic's windows as offset ranges [from, to) of its partition: one offsets-for-times
    request per window bound for all topics together, not one per topic."""
    marks = {
        topic: reader.get_watermark_offsets(
            KafkaPartition(topic, partition), timeout=TIMEOUT_SECONDS
        )
        for topic, partition in places.items()
    }

    def offsets_at(moments: dict[str, datetime | None]) -> dict[str, int]:
        asked = [
            KafkaPartition(t, places[t], int(m.timestamp() * 1000))
            for t, m in moments.items()
            if m is not None
        ]
        answers = reader.offsets_for_times(asked, timeout=TIMEOUT_SECONDS) if asked else []
        at = {tp.topic: int(tp.offset) for tp in answers}
        # -1 (or no moment): no message that late; the range runs to the end.
        return {
            t: int(marks[t][1]) if at.get(t, -1) < 0 else max(at[t], int(marks[t][0]))
            for t in moments
        }

    ranges = []
    for i in range(max(map(len, spans.values()), default=0)):
        windows = {t: ws[i] for t, ws in spans.items() if i < len(ws)}
        starts = offsets_at({t: w.start for t, w in windows.items()})
        ends = offsets_at({t: w.end for t, w in windows.items()})
        ranges += [(t, places[t], starts[t], ends[t]) for t in windows]
    return ranges


def _messages_in(reader: Consumer, ranges: list[tuple[str, int, int, int]]) -> Iterable[Message]:
    """The messages of each [from, to) range; ranges of one partition one after the other."""
    queued: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for name, number, start, end in sorted(ranges):
        queued.setdefault((name, number), []).append((start, end))
    if not queued:
        return
    reading = {where: spans.pop(0) for where, spans in queued.items()}
    reader.assign([KafkaPartition(t, p, reading[(t, p)][0]) for t, p in reading])
    deadline = time.monotonic() + TIMEOUT_SECONDS

    def finished(where: tuple[str, int]) -> None:
        # The next range of the partition, or the partition is done: stop fetching it.
        if queued[where]:
            reading[where] = queued[where].pop(0)
            reader.seek(KafkaPartition(*where, reading[where][0]))
        else:
            del reading[where]
            reader.pause([KafkaPartition(*where)])

    while reading:
        if time.monotonic() > deadline:
            raise OpsError(f"the topics were not read within {TIMEOUT_SECONDS:.0f}s")
        batch = take_available(reader, BATCH, 0.2)
        for msg in batch:
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            if msg.error() is not None or topic is None or partition is None or offset is None:
                continue
            where = (topic, partition)
            if where not in reading or not reading[where][0] <= offset < reading[where][1]:
                continue  # fetched before a seek or pause took effect
            yield msg
            if offset + 1 >= reading[where][1]:
                finished(where)
        if not batch:
            # A range may end on an offset no message is read at (a transaction marker).
            for where in list(reading):
                [at] = reader.position([KafkaPartition(*where)])
                if at.offset >= reading[where][1]:
                    finished(where)


def _found(msg: Message, codec: Codec, dead_letter_topics: set[str]) -> Found:
    topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
    assert topic is not None
    assert partition is not None
    assert offset is not None
    kind, millis = msg.timestamp()
    at = None if kind == TIMESTAMP_NOT_AVAILABLE else datetime.fromtimestamp(millis / 1000, UTC)
    raw = msg.headers() or []
    pairs = raw.items() if isinstance(raw, dict) else raw
    headers = {k: v.decode(errors="replace") if isinstance(v, bytes) else str(v) for k, v in pairs}
    event: str | None = None
    event_id: str | None = None
    error: str | None = None
    try:
        decoded = codec.decode(msg.value())
        event, event_id = type(decoded).__name__, decoded.event_id
    except DecodeError as e:
        error = str(e)
    catalog = BY_RECORD_NAME.get(event or "")
    producer = catalog.producer if catalog else None
    if topic in dead_letter_topics:
        producer = headers.get("dlq.service", producer)
    return Found(
        topic,
        partition,
        offset,
        at,
        event,
        event_id,
        producer,
        headers.get(CORRELATION_ID),
        headers.get(CAUSATION_ID),
        headers,
        error,
    )
