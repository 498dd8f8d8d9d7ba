"""The outbox relay: publishes committed outbox rows in id order with the idempotent producer,
then stamps them published. A crash between publish and stamp publishes again; consumers'
inboxes absorb the repeat. One relay per database holds an advisory lock, which keeps the
order per key even when several instances of a service run.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
from confluent_kafka import KafkaError, KafkaException
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError

from paykit.consumer import backoff
from paykit.db import outbox
from paykit.messages import as_kafka_headers
from paykit.metrics import OUTBOX_BACKLOG, OUTBOX_PUBLISHED

if TYPE_CHECKING:
    import threading

    from confluent_kafka import Message, Producer
    from sqlalchemy import Engine

log = structlog.get_logger()

RELAY_LOCK = 0x6F7574626F78  # "outbox": the advisory lock key of the single active relay


class OutboxRelay:
    def __init__(
        self,
        engine: Engine,
        producer: Producer,
        stop: threading.Event,
        batch_size: int = 500,
        idle_seconds: float = 0.05,
    ) -> None:
        self._engine = engine
        self._producer = producer
        self._stop = stop
        self._batch_size = batch_size
        self._idle = idle_seconds
        self.last_cycle = 0.0

    def run(self) -> None:
        failures = 0
        next_backlog_check = 0.0
        while not self._stop.is_set():
            self.last_cycle = time.monotonic()
            try:
                published = self.relay_once()
                if time.monotonic() >= next_backlog_check:
                    OUTBOX_BACKLOG.set(self.backlog())
                    next_backlog_check = time.monotonic() + 5
                failures = 0
            except (SQLAlchemyError, KafkaException) as e:
                failures += 1
                log.warning("relay_retry", attempt=failures, error=repr(e)[:500])
                self._stop.wait(backoff(failures, cap=5.0))
                continue
            if published == 0:
                self._stop.wait(self._idle)

    def relay_once(self) -> int:
        """Publishes one batch; returns how many rows it published."""
        with self._engine.begin() as conn:
            if not conn.execute(select(func.pg_try_advisory_xact_lock(RELAY_LOCK))).scalar():
                return 0
            rows = conn.execute(
                select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value, outbox.c.headers)
                .where(outbox.c.published_at.is_(None))
                .order_by(outbox.c.id)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            failures: list[KafkaError] = []

            def delivered(err: KafkaError | None, _msg: Message) -> None:
                if err is not None:
                    failures.append(err)

            for row in rows:
                self._producer.produce(
                    row.topic,
                    key=row.key,
                    value=row.value,
                    headers=as_kafka_headers(row.headers),
                    on_delivery=delivered,
                )
                self._producer.poll(0)
            if self._producer.flush(30) or failures:
                # Rolling back leaves the rows unpublished; the next cycle sends them again.
                raise KafkaException(
                    failures[0] if failures else KafkaError(KafkaError._MSG_TIMED_OUT)
                )
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([r.id for r in rows]))
                .values(published_at=func.now())
            )
        for row in rows:
            OUTBOX_PUBLISHED.labels(row.topic).inc()
        return len(rows)

    def backlog(self) -> int:
        with self._engine.connect() as conn:
            count = conn.execute(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            ).scalar()
        return int(count or 0)

    def is_cycling(self, within: float = 60.0) -> bool:
        return time.monotonic() - self.last_cycle < within
