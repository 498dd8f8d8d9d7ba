"""The batch runtime's offsets (`paykit.batches`): per partition, the next offset to read once a
batch is done, committed asynchronously at most every `COMMIT_SECONDS`, and synchronously on
revoke and at close.

Guarantee: a partition's committed offset never passes a message that is not done (a stop may
leave some of a batch undone); a commit the broker refused is asked again at the next interval.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
from confluent_kafka import KafkaException, TopicPartition

if TYPE_CHECKING:
    from collections.abc import Iterable

    from confluent_kafka import Consumer, KafkaError

    from paykit.messages import Received
    from paykit.offsets import Partition

log = structlog.get_logger()

# How often offsets are committed while messages flow (asynchronously): a crash redelivers at
# most this much more, which costs only inbox lookups.
COMMIT_SECONDS = 0.5


class OffsetCommits:
    def __init__(self) -> None:
        # Per partition: the next offset to read (all before it are done), and what the broker
        # was last asked to keep.
        self._done: dict[Partition, int] = {}
        self._committed: dict[Partition, int] = {}
        self._last_commit = 0.0

    def done(self, received: Iterable[Received], unfinished: Iterable[Received]) -> None:
        """Moves each partition's next offset past the batch `received`: up to its first
        unfinished message when a stop left some."""
        first_unfinished: dict[Partition, int] = {}
        for msg in unfinished:
            p = (msg.topic, msg.partition)
            first_unfinished[p] = min(first_unfinished.get(p, msg.offset), msg.offset)
        for msg in received:
            p = (msg.topic, msg.partition)
            if p in first_unfinished:
                self._done[p] = first_unfinished[p]
            elif msg.offset + 1 > self._done.get(p, 0):
                self._done[p] = msg.offset + 1

    def commit(self, consumer: Consumer, *, wait: bool, only: set[Partition] | None = None) -> None:
        """`wait=False`: what moved, if the interval has passed; `wait=True`: all of it, now."""
        now = time.monotonic()
        if not wait and now - self._last_commit < COMMIT_SECONDS:
            return
        offsets = {
            p: o
            for p, o in self._done.items()
            if (only is None or p in only) and (wait or self._committed.get(p) != o)
        }
        if not offsets:
            return
        self._last_commit = now
        listed = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            if wait:
                consumer.commit(offsets=listed, asynchronous=False)
            else:
                consumer.commit(offsets=listed, asynchronous=True)
        except KafkaException as e:
            # The partition may have moved to another instance; it will redeliver from the last
            # committed offset and the inbox turns the repeats into no-ops.
            log.warning("commit_failed", error=str(e))
            return
        self._committed.update(offsets)

    def failed(self, error: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """librdkafka's `on_commit`: an asynchronous commit that failed is asked again."""
        if error is None:
            return
        log.warning("commit_failed", error=str(error))
        for tp in partitions:
            self._committed.pop((tp.topic, tp.partition), None)

    def forget(self, partitions: Iterable[Partition]) -> None:
        """The partitions went to another owner, who starts from the committed offset."""
        for p in partitions:
            self._done.pop(p, None)
            self._committed.pop(p, None)
