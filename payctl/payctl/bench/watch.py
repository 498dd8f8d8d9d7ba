"""The bench's subscriber: when did each payment's milestone events appear on their topics?

It reads the topics like any other subscriber would, from their ends as they were when it
started, and takes each event's broker timestamp (the moment the service's relay published it),
so a bench process that falls behind reading does not inflate the latencies it reports.
"""

from __future__ import annotations

import threading
import uuid

from confluent_kafka import OFFSET_END, Consumer, TopicPartition

from paykit.kafka import take_available
from payment_events.catalog import BY_TYPE
from payment_events.events import (
    CaptureFailed,
    OrderConfirmed,
    OrderFailed,
    PaymentCaptured,
    PaymentFailed,
)

ORDER_CONFIRMED = BY_TYPE[OrderConfirmed].name
CAPTURED = BY_TYPE[PaymentCaptured].name
# A payment that reached one of these will not be captured: it is done, not waited for.
ENDED_WITHOUT_CAPTURE = (
    BY_TYPE[PaymentFailed].name,
    BY_TYPE[OrderFailed].name,
    BY_TYPE[CaptureFailed].name,
)
WATCHED = (ORDER_CONFIRMED, CAPTURED, *ENDED_WITHOUT_CAPTURE)


class MilestoneWatcher:
    def __init__(self, bootstrap: str) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": f"payctl-bench-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watcher", daemon=True)
        # topic -> payment id -> wall clock seconds of its first event there
        self.seen: dict[str, dict[str, float]] = {topic: {} for topic in WATCHED}

    def start(self) -> None:
        """Starts reading at the topics' current ends; returns once that position is fixed, so
        no event of a payment sent afterwards is missed."""
        partitions: list[TopicPartition] = []
        metadata = self._consumer.list_topics(timeout=30)
        for topic in WATCHED:
            for p in metadata.topics[topic].partitions:
                _, high = self._consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)
                partitions.append(TopicPartition(topic, p, high if high >= 0 else OFFSET_END))
        self._consumer.assign(partitions)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def done(self, payment_id: str) -> bool:
        """Captured, or ended in a way that will never be captured."""
        return payment_id in self.seen[CAPTURED] or any(
            payment_id in self.seen[topic] for topic in ENDED_WITHOUT_CAPTURE
        )

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                taken = take_available(self._consumer, 1000, 0.5)
                for msg in taken:
                    key, topic = msg.key(), msg.topic()
                    if msg.error() is not None or key is None or topic is None:
                        continue
                    _, millis = msg.timestamp()
                    self.seen[topic].setdefault(key.decode(), millis / 1000)
        finally:
            self._consumer.close()
