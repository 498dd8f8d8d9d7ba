"""The durable retry schedule: a message whose handling waits on an outside party (the payment
provider) is parked in the service's database with its bytes, tried again with exponential
backoff and jitter, and given up after a bounded number of attempts. The partition moves on, so
one failing payment never blocks the others.

Order per key is kept: while a payment has a parked message, its later messages park behind it,
and only the oldest parked message of a payment (its head) is ever due.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert

from paykit.db import retry_schedule
from paykit.messages import Received

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    base_seconds: float = 1.0
    max_delay_seconds: float = 60.0

    def delay(self, attempts: int) -> float:
        """Seconds to wait after `attempts` failed tries: doubling, capped, with equal jitter, so
        instances retrying together spread out but never retry at once."""
        ceiling = min(self.max_delay_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


@dataclass(frozen=True)
class Parked:
    id: int
    event_id: str
    payment_id: str
    attempts: int
    message: Received


def holds(session: Session, payment_id: str) -> bool:
    """True while `payment_id` has a parked message; its later messages must park behind it."""
    return bool(
        session.execute(select(exists().where(retry_schedule.c.payment_id == payment_id))).scalar()
    )


def park(
    session: Session,
    msg: Received,
    *,
    event_id: str,
    payment_id: str,
    attempts: int,
    delay: float,
    error: str | None,
) -> None:
    """Parks `msg` (once: a redelivered message already parked changes nothing)."""
    session.execute(
        insert(retry_schedule)
        .values(
            event_id=event_id,
            payment_id=payment_id,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=msg.key,
            value=msg.value or b"",
            headers=msg.header_values(),
            attempts=attempts,
            due_at=_after(delay),
            last_error=error,
        )
        .on_conflict_do_nothing(index_elements=[retry_schedule.c.event_id])
    )


def take_due(session: Session) -> Parked | None:
    """Locks the most overdue head of a payment, skipping rows another instance holds; the lock
    lasts for the caller's transaction, so no two instances try one message at once."""
    earlier = retry_schedule.alias("earlier")
    row = session.execute(
        select(retry_schedule)
        .where(retry_schedule.c.due_at <= func.now())
        .where(
            ~exists().where(
                earlier.c.payment_id == retry_schedule.c.payment_id,
                earlier.c.id < retry_schedule.c.id,
            )
        )
        .order_by(retry_schedule.c.due_at)
        .limit(1)
        .with_for_update(skip_locked=True, of=retry_schedule)
    ).first()
    if row is None:
        return None
    message = Received(
        row.topic,
        row.partition,
        row.offset,
        row.key,
        row.value,
        [(k, str(v)) for k, v in row.headers.items()],
    )
    return Parked(row.id, row.event_id, row.payment_id, row.attempts, message)


def lock(session: Session, parked: Parked) -> bool:
    """Locks a parked message again after its transaction failed; False if it is gone or held."""
    found = session.execute(
        select(retry_schedule.c.id)
        .where(retry_schedule.c.id == parked.id)
        .with_for_update(skip_locked=True)
    ).first()
    return found is not None


def reschedule(
    session: Session, parked: Parked, *, attempts: int, delay: float, error: str
) -> None:
    session.execute(
        update(retry_schedule)
        .where(retry_schedule.c.id == parked.id)
        .values(attempts=attempts, due_at=_after(delay), last_error=error[:2000])
    )


def remove(session: Session, parked: Parked) -> None:
    session.execute(delete(retry_schedule).where(retry_schedule.c.id == parked.id))


def outlook(session: Session) -> tuple[int, float | None]:
    """How many messages are parked, and how long until the next is due (0 if one is; None if
    none is parked), in one query."""
    count, due = session.execute(
        select(func.count(), func.min(retry_schedule.c.due_at)).select_from(retry_schedule)
    ).one()
    if due is None:
        return int(count), None
    return int(count), max(0.0, float((due - datetime.now(UTC)).total_seconds()))


def _after(delay: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=delay)
