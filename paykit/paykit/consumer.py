"""The consumer loop every service runs: poll in the main thread, hand each message to its lane
(`paykit.lanes`, one per payment key) where the dispatcher handles it in one transaction with its
inbox row, commit each partition's offset only up to its first unfinished message.

Guarantee: a message's offset is committed only once its effects, its place on the retry
schedule or its dead letter are durable, and the same for every message before it in its
partition, so a crash anywhere redelivers it; the inbox makes the redelivery change nothing.
"""

from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Generic

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition

from paykit.dispatch import Outcome, U, is_infrastructure
from paykit.kafka import consumer_config, take_available
from paykit.lanes import Lanes
from paykit.messages import Received, trace_of
from paykit.metrics import CONSUMER_LAG, HANDLER_SECONDS, MESSAGES, RETRIES
from payment_events.codec import DecodeError

if TYPE_CHECKING:
    import threading

    from confluent_kafka import Message

    from paykit.dead_letters import DeadLetters
    from paykit.dispatch import Dispatcher
    from paykit.offsets import Partition
    from payment_events.codec import Codec

log = structlog.get_logger()

# How long one poll waits for a message before the loop looks at its stop event and commits:
# the longest a stop waits for the loop, and each turn of an idle loop costs CPU.
POLL_SECONDS = 1.0
# Waits between in-place tries stay short, so a recovered database or broker is used at once.
IN_PLACE_BACKOFF_CAP = 5.0


def backoff(attempt: int, cap: float = 30.0) -> float:
    """Exponential with full jitter: instances retrying together do not retry in step."""
    return random.uniform(0, min(cap, 0.1 * 2**attempt))


class ConsumerLoop(Generic[U]):
    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        client_id: str,
        topics: list[str],
        codec: Codec,
        dispatcher: Dispatcher[U],
        dead_letters: DeadLetters,
        stop: threading.Event,
        concurrency: int,
        batch_size: int = 100,
    ) -> None:
        self._config = consumer_config(bootstrap, group_id, client_id) | {
            "statistics.interval.ms": 5000,
            "stats_cb": record_lag,
        }
        self._topics = topics
        self._codec = codec
        self._dispatcher = dispatcher
        self._dead_letters = dead_letters
        self._stop = stop
        self._batch_size = batch_size
        self._lanes = Lanes(concurrency, self._work, stop)
        self._consumer: Consumer | None = None

    def run(self) -> None:
        consumer = Consumer(self._config)
        self._consumer = consumer
        consumer.subscribe(self._topics, on_revoke=self._on_revoke)
        self._lanes.start()
        log.info("consumer_started", topics=self._topics, group=self._config["group.id"])
        try:
            while not self._stop.is_set():
                # A wait for room lasts until some lane finishes a message; librdkafka
                # heartbeats from its own thread meanwhile, and only a wait longer than
                # max.poll.interval.ms (a long database outage) costs the partitions.
                room = self._lanes.room()
                if room == 0:
                    continue
                taken = take_available(consumer, min(self._batch_size, room), POLL_SECONDS)
                for msg in taken:
                    if self._stop.is_set():
                        break
                    self._take(msg)
                self._commit(consumer)
        finally:
            # Sets the stop event too: whatever shares it (relay, retry worker) ends with the loop.
            self._lanes.close()
            self._commit(consumer)
            consumer.close()
            log.info("consumer_stopped")
        if self._lanes.failure is not None:
            raise self._lanes.failure

    @property
    def last_progress(self) -> float:
        return self._lanes.last_progress

    def is_alive(self, within: float = 60.0) -> bool:
        """Polling, and every busy lane handling or deliberately waiting out an infrastructure
        outage (which the database check reports); False when the loop or a lane is stuck."""
        return self._consumer is not None and time.monotonic() - self.last_progress < within

    def _take(self, msg: Message) -> None:
        error = msg.error()
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            log.warning("consumer_error", error=str(error))
            return
        self._lanes.submit(Received.of(msg))

    def _work(self, received: Received) -> bool:
        """Handles one message in its lane; False when stopping before it was done (it is not
        committed)."""
        structlog.contextvars.bind_contextvars(
            topic=received.topic, partition=received.partition, offset=received.offset
        )
        try:
            return self._handle(received)
        finally:
            structlog.contextvars.unbind_contextvars(
                "topic", "partition", "offset", "event_id", "payment_id", "correlation_id"
            )

    def _handle(self, msg: Received) -> bool:
        """Tries `msg` until it is handled, parked or dead-lettered. Infrastructure errors are
        retried in place: every other message would meet the same outage."""
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                outcome = self._dispatch(msg)
                if outcome is Outcome.HANDLED:
                    HANDLER_SECONDS.labels(msg.topic).observe(time.perf_counter() - started)
                MESSAGES.labels(msg.topic, outcome).inc()
                return True
            except Exception as e:
                if not is_infrastructure(e):
                    raise
                RETRIES.labels(msg.topic).inc()
                log.warning("infrastructure_retry", attempt=attempt, error=repr(e)[:500])
            self._lanes.touch()
            if self._stop.wait(backoff(attempt, cap=IN_PLACE_BACKOFF_CAP)):
                return False

    def _dispatch(self, msg: Received) -> Outcome:
        try:
            event = self._codec.decode(msg.value)
        except DecodeError as e:
            log.error("message_undecodable", code=e.code, error=str(e))
            self._dead_letters.send(msg, e, attempts=1)
            return Outcome.DEAD_LETTERED
        trace = trace_of(msg.header_values(), event.event_id, event.payment_id)
        structlog.contextvars.bind_contextvars(
            event_id=event.event_id,
            payment_id=event.payment_id,
            correlation_id=trace.correlation_id,
        )
        return self._dispatcher.deliver(msg, event, trace)

    def _commit(self, consumer: Consumer, offsets: dict[Partition, int] | None = None) -> None:
        if offsets is None:
            offsets = self._lanes.to_commit()
        if not offsets:
            return
        try:
            consumer.commit(
                offsets=[TopicPartition(t, p, o) for (t, p), o in offsets.items()],
                asynchronous=False,
            )
        except KafkaException as e:
            # The partition may have moved to another instance; it will redeliver from the last
            # committed offset and the inbox turns the repeats into no-ops.
            log.warning("commit_failed", error=str(e))
        self._lanes.committed(offsets)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # No message of these partitions is started after this: the next owner has them.
        offsets = self._lanes.revoke({(tp.topic, tp.partition) for tp in partitions})
        self._commit(consumer, offsets)


def record_lag(stats_json: str) -> None:
    stats = json.loads(stats_json)
    for topic, t in stats.get("topics", {}).items():
        for partition, p in t.get("partitions", {}).items():
            lag = p.get("consumer_lag", -1)
            if partition != "-1" and lag >= 0:
                CONSUMER_LAG.labels(topic, partition).set(lag)
