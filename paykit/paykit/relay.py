"""The outbox relay: publishes committed outbox rows in id order with the idempotent producer,
then stamps them published. A crash between publish and stamp publishes again; consumers'
inboxes absorb the repeat. One relay per database holds an advisory lock, which keeps the
order per key even when several instances of a service run.

An idle relay waits for the database's notice that rows were committed (`OUTBOX_CHANNEL`, sent
by a trigger on the outbox: `paykit.migrations.notify_on_outbox_insert`), whichever process or
instance wrote them, and looks anyway every `sweep_seconds` in case a notice was missed (the
listening connection was down). It wakes for nothing else: `stop_waiting` ends a wait.
"""

from __future__ import annotations

import os
import selectors
import time
from typing import TYPE_CHECKING, Any

import psycopg
import structlog
from confluent_kafka import KafkaError, KafkaException
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from paykit.consumer import backoff
from paykit.db import libpq_url, outbox
from paykit.messages import as_kafka_headers
from paykit.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED

if TYPE_CHECKING:
    import threading
    from collections.abc import Callable

    from confluent_kafka import Message, Producer
    from sqlalchemy import Engine

log = structlog.get_logger()

RELAY_LOCK = 0x6F7574626F78  # "outbox": the advisory lock key of the single active relay
OUTBOX_CHANNEL = "outbox"  # NOTIFY channel of committed outbox rows
CONNECT_TIMEOUT_SECONDS = 5

# The oldest unpublished rows, only for the relay that holds the lock (for this transaction);
# another relay gets none, without scanning (the lock is a one-time filter of the query).
TAKE = (
    "SELECT id, topic, key, value, headers FROM outbox "
    "WHERE (SELECT pg_try_advisory_xact_lock(%s)) AND published_at IS NULL "
    "ORDER BY id LIMIT %s FOR UPDATE"
)
STAMP = "UPDATE outbox SET published_at = now() WHERE id = ANY(%s)"


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        producer: Producer,
        stop: threading.Event,
        batch_size: int = 500,
        sweep_seconds: float = 10.0,
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._stop = stop
        self._batch_size = batch_size
        self._sweep = sweep_seconds
        self._listener: psycopg.Connection[tuple[object, ...]] | None = None
        self._conn: psycopg.Connection[Any] | None = None  # the cycles' own
        # Written by `stop_waiting`; a wait selects on it beside the listening connection.
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self.last_cycle = 0.0
        self.failures = 0
        self.idle = False  # waiting for a notice, with nothing to publish
        # Counted when scraped, not in the relay's cycle: a relay held in a publish the broker
        # does not answer (an outage) would leave the last count standing while rows pile up.
        self._last_backlog = 0
        OUTBOX_BACKLOG.set_function(self._scraped_backlog)

    def run(self) -> None:
        try:
            self._run()
        finally:
            self._stop_listening()
            self._close_connection()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.last_cycle = time.monotonic()
            try:
                published = self.relay_once()
                self.failures = 0
            except (psycopg.Error, KafkaException) as e:
                if isinstance(e, KafkaException) and e.args[0].fatal():
                    # The idempotent producer cannot go on without breaking order: let the
                    # process die and its supervisor start a fresh producer.
                    log.critical("relay_producer_fatal", error=str(e))
                    raise
                self.failures += 1
                log.warning("relay_retry", attempt=self.failures, error=repr(e)[:500])
                # The listening connection may have died with the database: listen anew after.
                self._stop_listening()
                self._stop.wait(backoff(self.failures, cap=5.0))
                continue
            # Fewer rows than a batch: the cycle took every row committed before it, and a row
            # committed since sent a notice, which ends the wait at once. Looking again now
            # would cost an empty cycle per batch.
            if published < self._batch_size:
                self._wait_for_rows()
            else:
                self._drain_notices()

    def _wait_for_rows(self) -> None:
        """Until rows are committed, for at most `sweep_seconds`, or until `stop_waiting`."""
        try:
            if self._listener is None:
                self._listener = self._listen()
                return  # rows committed before the LISTEN sent no notice: look once more
            self.idle = True
            with selectors.DefaultSelector() as waiting:
                waiting.register(self._listener.fileno(), selectors.EVENT_READ)
                waiting.register(self._wake_r, selectors.EVENT_READ)
                woken = [key.fd for key, _ in waiting.select(self._sweep)]
            self.idle = False
            if self._wake_r in woken:
                os.read(self._wake_r, 4096)
            self._drain_notices()
        except psycopg.Error as e:
            # The database is away: the next cycle's own error says so and backs off; a cycle
            # that succeeds listens anew and looks once more, so no notice is waited for. The
            # short wait keeps a LISTEN that fails while queries work from spinning.
            self.idle = False
            log.warning("relay_listener_lost", error=repr(e)[:300])
            self._stop_listening()
            self._stop.wait(1.0)

    def _drain_notices(self) -> None:
        """Takes the notices that arrived (their payload says nothing: the rows are the news).
        Also while busy: PostgreSQL keeps every notice until each listener has read it."""
        if self._listener is None:
            return
        try:
            for _ in self._listener.notifies(timeout=0):
                pass
        except psycopg.Error as e:
            log.warning("relay_listener_lost", error=repr(e)[:300])
            self._stop_listening()

    def stop_waiting(self) -> None:
        """Ends a wait for rows at once (call it after setting the stop event): an idle relay
        otherwise notices a stop only at its next sweep."""
        os.write(self._wake_w, b"x")

    def _listen(self) -> psycopg.Connection[tuple[object, ...]]:
        conn = psycopg.connect(libpq_url(self._engine), autocommit=True)
        try:
            conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
        except psycopg.Error:
            conn.close()
            raise
        return conn

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def relay_once(self) -> int:
        """Publishes one batch and stamps the rows the broker acknowledged; raises if any row was
        not acknowledged (it stays unpublished and is sent again next cycle).

        Two round trips on plain SQL: the lock and the rows, then the stamp and the commit."""
        conn = self._connection()
        try:
            with conn.pipeline(), conn.transaction():
                rows = conn.execute(TAKE, (RELAY_LOCK, self._batch_size)).fetchall()
                if not rows:
                    return 0
                acked, failures, unsent = self._publish(rows)
                # Stamping what was acknowledged, even when another row failed, keeps one bad
                # row (too large, a missing topic) from holding every other payment's events.
                if acked:
                    conn.execute(STAMP, (acked,))
        except psycopg.Error:
            self._close_connection()
            raise
        topics = {row[0]: row[1] for row in rows}
        for row_id in acked:
            OUTBOX_PUBLISHED.labels(topics[row_id]).inc()
        if unsent or failures:
            raise KafkaException(failures[0] if failures else KafkaError(KafkaError._MSG_TIMED_OUT))
        return len(rows)

    def _publish(self, rows: list[tuple[Any, ...]]) -> tuple[list[int], list[KafkaError], int]:
        acked: list[int] = []
        failures: list[KafkaError] = []
        for row_id, topic, key, value, headers in rows:
            try:
                self._producer.produce(
                    topic,
                    key=key,
                    value=value,
                    headers=as_kafka_headers(headers),
                    on_delivery=_tracker(row_id, acked, failures),
                )
            except KafkaException as e:  # refused before sending, e.g. too large
                log.error("outbox_row_refused", outbox_id=row_id, error=str(e))
                failures.append(e.args[0])
            self._producer.poll(0)
        unsent = self._producer.flush(30)
        return acked, failures, unsent

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(
                libpq_url(self._engine), autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
            )
        return self._conn

    def _close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _scraped_backlog(self) -> float:
        try:
            self._last_backlog = self.backlog()
        except SQLAlchemyError:
            pass  # the database is down (its /healthz check says so): the last count stands
        return float(self._last_backlog)

    def backlog(self) -> int:
        with self._engine.connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            ).scalar()
        return int(count or 0)

    def is_healthy(self, within: float = 60.0, max_failures: int = 20) -> bool:
        """Cycling, and not failing cycle after cycle (about a minute of backoff)."""
        return time.monotonic() - self.last_cycle < within and self.failures < max_failures


def _tracker(
    row_id: int, acked: list[int], failures: list[KafkaError]
) -> Callable[[KafkaError | None, Message], None]:
    def delivered(err: KafkaError | None, _msg: Message) -> None:
        if err is None:
            acked.append(row_id)
        else:
            failures.append(err)

    return delivered
