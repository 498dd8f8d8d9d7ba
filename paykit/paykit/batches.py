"""The batch consumer runtime: takes what the broker has (up to `batch_size` messages, and what
arrives within `linger` of the first), handles all of it in one transaction on plain SQL, and
commits offsets on an interval.

One transaction per batch, in two round trips: the first claims the batch's inbox rows, asks
which payments wait on the retry schedule and loads (and locks) the payments' states; the
handlers then run in memory, a payment's messages in the order they were consumed; the second
writes the states, the recorded events' outbox rows and the inbox rows of payments that did not
make it, and commits. Payments are independent: one whose handler raised, that waits on the
retry schedule or that a replay re-delivered is handled after the commit on the per-message path
(`paykit.dispatch`), message by message with the retry schedule and dead letters as always, and
never sinks the rest of its batch. An undecodable message is dead-lettered before the batch.

Guarantee: a partition's offset is committed only up to messages whose effects, place on the
retry schedule or dead letter are durable, so a crash anywhere redelivers the rest and the inbox
makes the repeats change nothing. Offsets go asynchronously on an interval, and synchronously
when partitions are revoked and at close (`paykit.batch_offsets`).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import psycopg
import structlog
from confluent_kafka import Consumer, KafkaException, TopicPartition

from paykit.batch_offsets import OffsetCommits
from paykit.consumer import IN_PLACE_BACKOFF_CAP, POLL_SECONDS, backoff, record_lag
from paykit.dispatch import Outcome, is_infrastructure
from paykit.kafka import consumer_config, take_available
from paykit.messages import Received, trace_of
from paykit.metrics import BATCH_SIZE, HANDLER_SECONDS, MESSAGES, RETRIES
from paykit.outbox import INSERT_OUTBOX_ROW, as_parameters, outbox_row
from payment_events.codec import DecodeError

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable, Mapping

    from confluent_kafka import Message

    from paykit.dead_letters import DeadLetters
    from paykit.dispatch import Dispatcher
    from paykit.messages import Trace
    from paykit.offsets import Partition
    from paykit.outbox import OutboxRow
    from paykit.states import StateHandlers
    from payment_events.codec import Codec
    from payment_events.events import Event

log = structlog.get_logger()
T = TypeVar("T")

# A database that does not answer a connect within this is down for this try.
CONNECT_TIMEOUT_SECONDS = 5

# The batch's inbox rows in one statement; an event already handled returns nothing.
CLAIM = (
    'INSERT INTO inbox (event_id, topic, partition, "offset") '
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::bigint[]) "
    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"
)
# Payments with a message on the retry schedule: their later messages wait behind it.
HELD = "SELECT DISTINCT payment_id FROM retry_schedule WHERE payment_id = ANY(%s)"
UNCLAIM = "DELETE FROM inbox WHERE event_id = ANY(%s)"


@dataclass(frozen=True)
class _Item:
    msg: Received
    event: Event
    trace: Trace


class BatchLoop:
    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        client_id: str,
        topics: list[str],
        codec: Codec,
        database_url: str,
        state_handlers: StateHandlers[Any],
        dispatcher: Dispatcher[Any],
        dead_letters: DeadLetters,
        stop: threading.Event,
        batch_size: int = 500,
        linger: float = 0.0,
    ) -> None:
        self._offsets = OffsetCommits()
        # Partitions revoked during the current take (librdkafka calls back from inside
        # consume(), also after the take's first message arrived).
        self._revoked: set[Partition] = set()
        self._config = consumer_config(bootstrap, group_id, client_id) | {
            "statistics.interval.ms": 5000,
            "stats_cb": record_lag,
            "on_commit": self._offsets.failed,
        }
        self._topics = topics
        self._codec = codec
        self._database_url = database_url
        self._state = state_handlers
        self._dispatcher = dispatcher
        self._dead_letters = dead_letters
        self._stop = stop
        self._batch_size = batch_size
        self._linger = linger
        self._conn: psycopg.Connection[Any] | None = None
        self._consumer: Consumer | None = None
        self._redelivered_below: Mapping[Partition, int] | None = None
        self.last_progress = 0.0

    def run(self) -> None:
        consumer = Consumer(self._config)
        self._consumer = consumer
        consumer.subscribe(self._topics, on_revoke=self._on_revoke)
        self.last_progress = time.monotonic()
        log.info("consumer_started", topics=self._topics, group=self._config["group.id"])
        try:
            while not self._stop.is_set():
                self.last_progress = time.monotonic()
                self._revoked.clear()
                taken = take_available(consumer, self._batch_size, POLL_SECONDS, self._linger)
                if self._revoked:  # during the take: their next owner redelivers them
                    taken = [m for m in taken if (m.topic(), m.partition()) not in self._revoked]
                if taken:
                    self._handle(taken)
                self._offsets.commit(consumer, wait=False)
        finally:
            # Sets the stop event too: whatever shares it (relay, retry worker) ends with the loop.
            self._stop.set()
            self._offsets.commit(consumer, wait=True)
            consumer.close()
            if self._conn is not None:
                self._conn.close()
            log.info("consumer_stopped")

    def is_alive(self, within: float = 60.0) -> bool:
        """Polling, or handling a batch (or waiting out an outage, try after try)."""
        return self._consumer is not None and time.monotonic() - self.last_progress < within

    def _handle(self, taken: list[Message]) -> None:
        started = time.perf_counter()
        outcomes: Counter[tuple[str, str]] = Counter()
        unfinished: list[Received] = []
        groups: dict[str, list[_Item]] = {}
        received: list[Received] = []
        for message in taken:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                log.warning("consumer_error", error=str(error))
                continue
            msg = Received.of(message)
            received.append(msg)
            # In place: a schema registry that does not answer fails every message alike.
            item = self._in_place(functools.partial(self._decode, msg))
            if item is None:  # stopping before it was decoded or its dead letter sent
                unfinished.append(msg)
            elif isinstance(item, _Item):
                groups.setdefault(item.event.payment_id, []).append(item)
            else:
                outcomes[msg.topic, item] += 1
        if groups:
            slow = self._in_place(lambda: self._handle_together(groups, outcomes))
            if slow is None:  # stopping before the batch committed
                unfinished += [i.msg for items in groups.values() for i in items]
            else:
                unfinished += self._handle_one_by_one(groups, slow, outcomes)
        self._offsets.done(received, unfinished)
        seconds = time.perf_counter() - started
        for (topic, outcome), n in outcomes.items():
            MESSAGES.labels(topic, outcome).inc(n)
            if outcome == Outcome.HANDLED:
                for _ in range(n):
                    HANDLER_SECONDS.labels(topic).observe(seconds)
        BATCH_SIZE.observe(len(received))
        log.info(
            "batch_handled",
            messages=len(received),
            payments=len(groups),
            seconds=round(seconds, 4),
            **{f"{outcome}": n for outcome, n in _by_outcome(outcomes).items()},
        )

    def _decode(self, msg: Received) -> _Item | Outcome:
        """The message's event to handle; else what became of it (dead-lettered: undecodable;
        skipped: no handler here). Raises what the registry or the broker raise."""
        try:
            event = self._codec.decode(msg.value)
        except DecodeError as e:
            log.error(
                "message_undecodable",
                code=e.code,
                error=str(e),
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
            )
            self._dead_letters.send(msg, e, attempts=1)
            return Outcome.DEAD_LETTERED
        if type(event) not in self._state.handlers:
            return Outcome.SKIPPED
        return _Item(msg, event, trace_of(msg.header_values(), event.event_id, event.payment_id))

    def _handle_together(
        self, groups: dict[str, list[_Item]], outcomes: Counter[tuple[str, str]]
    ) -> list[str]:
        """One transaction for the batch; returns the payments left for the per-message path."""
        try:
            return self._transaction(groups, outcomes)
        except Exception as e:
            if is_infrastructure(e):
                self._drop_connection()
                raise
            # The batch's writes failed (a constraint, a value the database refused): nothing
            # of it holds. Every payment takes the per-message path, where the one at fault is
            # parked or dead-lettered on its own.
            log.exception("batch_failed", payments=len(groups))
            return list(groups)

    def _transaction(
        self, groups: dict[str, list[_Item]], outcomes: Counter[tuple[str, str]]
    ) -> list[str]:
        conn = self._connect()
        redelivered = self._redelivered()
        items = [i for batch in groups.values() for i in batch]
        # A payment's messages a replay re-delivered take the per-message path, which asks the
        # provider before acting: this service may have acted on them before a restore.
        slow = {
            key: None
            for key, batch in groups.items()
            if any(i.msg.offset < redelivered.get((i.msg.topic, i.msg.partition), 0) for i in batch)
        }
        debug = logging.getLogger(__name__).isEnabledFor(logging.DEBUG)
        with conn.pipeline(), conn.transaction():
            claim = conn.execute(
                CLAIM,
                (
                    [i.event.event_id for i in items],
                    [i.msg.topic for i in items],
                    [i.msg.partition for i in items],
                    [i.msg.offset for i in items],
                ),
            )
            held = conn.execute(HELD, (list(groups),))
            states = self._state.store.load(conn, list(groups))
            claimed = {row[0] for row in claim.fetchall()}
            slow |= dict.fromkeys(row[0] for row in held.fetchall())
            changed: list[Any] = []
            rows: list[OutboxRow] = []
            handled: Counter[tuple[str, str]] = Counter()
            for key, batch in groups.items():
                if key in slow:
                    continue
                applied = self._apply(batch, states.get(key), claimed, debug)
                if applied is None:
                    slow[key] = None
                    continue
                state, recorded, counts = applied
                if state is not None and any(o == Outcome.HANDLED for _, o in counts):
                    changed.append(state)  # only duplicates: nothing to write
                rows += recorded
                handled += counts
            # The claims of the payments left for the per-message path go: it claims them again.
            unclaim = [i.event.event_id for key in slow for i in groups[key]]
            unclaim = [event_id for event_id in unclaim if event_id in claimed]
            if unclaim:
                conn.execute(UNCLAIM, (unclaim,))
            if changed:
                self._state.store.save(conn, changed)
            if rows:
                conn.cursor().executemany(INSERT_OUTBOX_ROW, [as_parameters(r) for r in rows])
        outcomes += handled
        return list(slow)

    def _apply(
        self, batch: list[_Item], state: Any, claimed: set[str], debug: bool
    ) -> tuple[Any, list[OutboxRow], Counter[tuple[str, str]]] | None:
        """One payment's messages in order against its state; None when a handler raised."""
        rows: list[OutboxRow] = []
        counts: Counter[tuple[str, str]] = Counter()
        seen: set[str] = set()
        try:
            for item in batch:
                event = item.event
                # The same event twice in one batch is handled once.
                if event.event_id not in claimed or event.event_id in seen:
                    counts[item.msg.topic, Outcome.DUPLICATE] += 1
                    continue
                seen.add(event.event_id)
                state = self._state.apply(event, state)
                rows += [outbox_row(self._codec, e, item.trace) for e in state.events]
                state.events.clear()
                counts[item.msg.topic, Outcome.HANDLED] += 1
                if debug:
                    log.debug(
                        "message_handled",
                        event_id=event.event_id,
                        payment_id=event.payment_id,
                        topic=item.msg.topic,
                        offset=item.msg.offset,
                    )
        except Exception as e:
            if is_infrastructure(e):
                raise
            log.info(
                "payment_left_for_one_by_one",
                payment_id=batch[0].event.payment_id,
                error=repr(e)[:300],
            )
            return None
        return state, rows, counts

    def _handle_one_by_one(
        self, groups: dict[str, list[_Item]], slow: list[str], outcomes: Counter[tuple[str, str]]
    ) -> list[Received]:
        """The per-message path for these payments, in order; returns what a stop left undone."""
        unfinished: list[Received] = []
        for key in slow:
            for item in groups[key]:
                if unfinished or self._stop.is_set():
                    unfinished.append(item.msg)
                    continue
                outcome = self._in_place(functools.partial(self._deliver, item))
                if outcome is None:
                    unfinished.append(item.msg)
                else:
                    outcomes[item.msg.topic, outcome] += 1
        return unfinished

    def _deliver(self, item: _Item) -> Outcome:
        msg, event = item.msg, item.event
        structlog.contextvars.bind_contextvars(
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            event_id=event.event_id,
            payment_id=event.payment_id,
            correlation_id=item.trace.correlation_id,
        )
        try:
            return self._dispatcher.deliver(msg, event, item.trace)
        finally:
            structlog.contextvars.unbind_contextvars(
                "topic", "partition", "offset", "event_id", "payment_id", "correlation_id"
            )

    def _in_place(self, work: Callable[[], T]) -> T | None:
        """`work()`, tried again after infrastructure errors (every other message would meet the
        same outage) until it succeeds; None when the service stops first."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return work()
            except Exception as e:
                if not is_infrastructure(e):
                    raise
                RETRIES.labels("batch").inc()
                log.warning("infrastructure_retry", attempt=attempt, error=repr(e)[:500])
            self.last_progress = time.monotonic()
            if self._stop.wait(backoff(attempt, cap=IN_PLACE_BACKOFF_CAP)):
                return None

    def _connect(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                self._database_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _redelivered(self) -> Mapping[Partition, int]:
        if self._redelivered_below is None:
            self._redelivered_below = self._dispatcher.redelivered_below()
        return self._redelivered_below

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Called from the take, between batches: nothing of these partitions is being handled;
        # what the take already holds of them is dropped after it.
        revoked = {(tp.topic, tp.partition) for tp in partitions}
        self._revoked |= revoked
        self._offsets.commit(consumer, wait=True, only=revoked)
        self._offsets.forget(revoked)
        log.info("partitions_revoked", partitions=sorted(revoked))


def _by_outcome(outcomes: Counter[tuple[str, str]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for (_, outcome), n in outcomes.items():
        total[str(outcome)] += n
    return total
