"""The consumer loop every service runs: decode, handle in one transaction with the inbox row,
commit the offset only after the database commit.

Guarantee: a message's offset is committed only once its effects (or its dead letter) are
durable, so a crash anywhere redelivers it; the inbox makes the redelivery change nothing.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition
from sqlalchemy.exc import DBAPIError, OperationalError

from paykit.errors import PermanentError, TransientError
from paykit.kafka import consumer_config
from paykit.messages import Received, trace_of
from paykit.metrics import CONSUMER_LAG, HANDLER_SECONDS, MESSAGES, RETRIES
from paykit.unit_of_work import UnitOfWork
from payment_events.codec import DecodeError

if TYPE_CHECKING:
    import threading

    from confluent_kafka import Message

    from paykit.dead_letters import DeadLetters
    from payment_events.codec import Codec
    from payment_events.events import Event

U = TypeVar("U", bound=UnitOfWork)
Handler = Callable[[Any, U], None]
# Called with the event, a unit of work and the last error once a message's retries are used up:
# records the terminal state (e.g. PaymentFailed provider_unavailable) before it is dead-lettered.
GiveUp = Callable[[Any, U, BaseException], None]

log = structlog.get_logger()

# Errors about the world, not the message: retried for as long as it takes, never committed.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    OperationalError,
    KafkaException,
)
# An error nobody classified is retried this many times, then dead-lettered: a bug must not
# stall a partition forever, nor skip a payment silently.
UNCLASSIFIED_ATTEMPTS = 5


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
        handlers: Mapping[type[Event], Handler[U]],
        uow_factory: Callable[[], U],
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
        self._handlers = handlers
        self._uow_factory = uow_factory
        self._dead_letters = dead_letters
        self._stop = stop
        self._batch_size = batch_size
        self._pending: dict[tuple[str, int], int] = {}
        self._consumer: Consumer | None = None
        self.last_poll = 0.0

    def run(self) -> None:
        consumer = Consumer(self._config)
        self._consumer = consumer
        consumer.subscribe(self._topics, on_revoke=self._on_revoke)
        log.info("consumer_started", topics=self._topics, group=self._config["group.id"])
        try:
            while not self._stop.is_set():
                self.last_poll = time.monotonic()
                for msg in consumer.consume(self._batch_size, timeout=0.5):
                    if not self._take(msg):
                        break
                self._commit(consumer)
        finally:
            self._commit(consumer)
            consumer.close()
            log.info("consumer_stopped")

    def is_polling(self, within: float = 60.0) -> bool:
        return self._consumer is not None and time.monotonic() - self.last_poll < within

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
        topic = msg.topic
        try:
            event = self._codec.decode(msg.value)
        except DecodeError as e:
            log.error("message_undecodable", code=e.code, error=str(e))
            return self._dead_letter(msg, e, attempts=1)
        trace = trace_of(msg.header_values(), event.event_id, event.payment_id)
        structlog.contextvars.bind_contextvars(
            event_id=event.event_id,
            payment_id=event.payment_id,
            correlation_id=trace.correlation_id,
        )
        handler = self._handlers.get(type(event))
        if handler is None:
            MESSAGES.labels(topic, "skipped").inc()
            return True
        attempt = 0
        while True:
            attempt += 1
            started = time.perf_counter()
            try:
                with self._uow_factory() as uow:
                    uow.trace = trace
                    if not uow.claim(event.event_id, topic, msg.partition, msg.offset):
                        MESSAGES.labels(topic, "duplicate").inc()
                        log.info("duplicate_ignored")
                        return True
                    handler(event, uow)
                    uow.commit()
                HANDLER_SECONDS.labels(topic).observe(time.perf_counter() - started)
                MESSAGES.labels(topic, "handled").inc()
                return True
            except PermanentError as e:
                log.error("message_rejected", code=e.code, error=str(e))
                return self._dead_letter(msg, e, attempt)
            except INFRASTRUCTURE_ERRORS as e:
                self._note_retry(topic, attempt, e)
            except DBAPIError as e:
                if not e.connection_invalidated and attempt >= UNCLASSIFIED_ATTEMPTS:
                    log.exception("handler_failed")
                    return self._dead_letter(msg, e, attempt)
                self._note_retry(topic, attempt, e)
            except Exception as e:  # unclassified: a bug or a surprise; retried, then parked.
                if attempt >= UNCLASSIFIED_ATTEMPTS:
                    log.exception("handler_failed")
                    return self._dead_letter(msg, e, attempt)
                self._note_retry(topic, attempt, e)
            if self._stop.wait(backoff(attempt)):
                return False

    def _note_retry(self, topic: str, attempt: int, error: BaseException) -> None:
        RETRIES.labels(topic).inc()
        log.warning("handler_retry", attempt=attempt, error=repr(error)[:500])

    def _dead_letter(self, msg: Received, error: BaseException, attempts: int) -> bool:
        attempt = 0
        while True:
            try:
                self._dead_letters.send(msg, error, attempts)
                MESSAGES.labels(msg.topic, "dead_lettered").inc()
                return True
            except KafkaException as e:
                attempt += 1
                log.warning("dead_letter_retry", error=str(e))
                if self._stop.wait(backoff(attempt)):
                    return False

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
