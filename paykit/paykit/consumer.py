"""The consumer loop every service runs: decode, hand each message to the dispatcher (one
transaction with its inbox row), commit the offset only after the database commit.

Guarantee: a message's offset is committed only once its effects, its place on the retry
schedule or its dead letter are durable, so a crash anywhere redelivers it; the inbox makes the
redelivery change nothing.
"""

from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Generic

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition

from paykit.dispatch import Outcome, U, is_infrastructure
from paykit.kafka import consumer_config
from paykit.messages import Received, trace_of
from paykit.metrics import CONSUMER_LAG, HANDLER_SECONDS, MESSAGES, RETRIES
from payment_events.codec import DecodeError

if TYPE_CHECKING:
    import threading

    from confluent_kafka import Message

    from paykit.dead_letters import DeadLetters
    from paykit.dispatch import Dispatcher
    from payment_events.codec import Codec

log = structlog.get_logger()

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
        batch_size: int = 100,
        instance_id: str | None = None,
    ) -> None:
        self._config = consumer_config(bootstrap, group_id, client_id) | {
            "statistics.interval.ms": 5000,
            "stats_cb": _record_lag,
        }
        if instance_id:
            self._config["group.instance.id"] = instance_id
        self._topics = topics
        self._codec = codec
        self._dispatcher = dispatcher
        self._dead_letters = dead_letters
        self._stop = stop
        self._batch_size = batch_size
        self._pending: dict[tuple[str, int], int] = {}
        self._consumer: Consumer | None = None
        self.last_progress = 0.0

    def run(self) -> None:
        consumer = Consumer(self._config)
        self._consumer = consumer
        consumer.subscribe(self._topics, on_revoke=self._on_revoke)
        log.info("consumer_started", topics=self._topics, group=self._config["group.id"])
        try:
            while not self._stop.is_set():
                self.last_progress = time.monotonic()
                for msg in consumer.consume(self._batch_size, timeout=0.5):
                    if not self._take(msg):
                        break
                self._commit(consumer)
        finally:
            self._commit(consumer)
            consumer.close()
            log.info("consumer_stopped")

    def is_alive(self, within: float = 60.0) -> bool:
        """Polling, or deliberately waiting out an infrastructure outage (which the database
        check reports); False only when the loop is stuck or gone."""
        return self._consumer is not None and time.monotonic() - self.last_progress < within

    def _take(self, msg: Message) -> bool:
        """Handles one message; False when stopping before it was done (it is not committed)."""
        error = msg.error()
        if error is not None:
            if error.fatal():
                raise KafkaException(error)
            log.warning("consumer_error", error=str(error))
            return True
        received = Received.of(msg)
        structlog.contextvars.bind_contextvars(
            topic=received.topic, partition=received.partition, offset=received.offset
        )
        try:
            done = self._handle(received)
        finally:
            structlog.contextvars.unbind_contextvars(
                "topic", "partition", "offset", "event_id", "payment_id", "correlation_id"
            )
        if done:
            self._pending[(received.topic, received.partition)] = received.offset + 1
        return done

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
            self.last_progress = time.monotonic()
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

    def _commit(self, consumer: Consumer, only: list[TopicPartition] | None = None) -> None:
        keys = {(tp.topic, tp.partition) for tp in only} if only is not None else None
        offsets = [
            TopicPartition(t, p, o)
            for (t, p), o in self._pending.items()
            if keys is None or (t, p) in keys
        ]
        if not offsets:
            return
        try:
            consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as e:
            # The partition may have moved to another instance; it will redeliver from the last
            # committed offset and the inbox turns the repeats into no-ops.
            log.warning("commit_failed", error=str(e))
        for tp in offsets:
            self._pending.pop((tp.topic, tp.partition), None)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._commit(consumer, only=partitions)


def _record_lag(stats_json: str) -> None:
    stats = json.loads(stats_json)
    for topic, t in stats.get("topics", {}).items():
        for partition, p in t.get("partitions", {}).items():
            lag = p.get("consumer_lag", -1)
            if partition != "-1" and lag >= 0:
                CONSUMER_LAG.labels(topic, partition).set(lag)
