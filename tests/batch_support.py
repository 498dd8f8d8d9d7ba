"""The batch runtime's test service: a state per payment (the event ids it applied, in order) in
a table of its own, kept by a plain-SQL store, and the batch loop wired as `paykit.service`
wires it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime_support import FAST_RETRIES, codec, dispatching, running_beside
from sqlalchemy import Column, MetaData, Table, Text, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import sessionmaker

from paykit.batches import BatchLoop
from paykit.db import libpq_url
from paykit.retry_worker import RetryWorker
from paykit.states import StateHandlers, per_message
from payment_events.events import PaymentFailed, PaymentInitiated

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import psycopg
    from sqlalchemy import Engine

    from paykit.retries import RetryPolicy
    from payment_events.codec import Codec
    from payment_events.events import Event

batch_metadata = MetaData()
tallies = Table(
    "tallies",
    batch_metadata,
    Column("payment_id", Text, primary_key=True),
    Column("event_ids", ARRAY(Text), nullable=False),
)


@dataclass(eq=False)
class Tally:
    payment_id: str
    event_ids: list[str]
    events: list[Event] = field(default_factory=list)


class Tallies:
    def load(self, conn: psycopg.Connection[Any], payment_ids: Sequence[str]) -> dict[str, Tally]:
        rows = conn.execute(
            "SELECT payment_id, event_ids FROM tallies WHERE payment_id = ANY(%s) "
            "ORDER BY payment_id FOR UPDATE",
            (list(payment_ids),),
        )
        return {payment_id: Tally(payment_id, list(ids)) for payment_id, ids in rows.fetchall()}

    def save(self, conn: psycopg.Connection[Any], states: Sequence[Tally]) -> None:
        conn.cursor().executemany(
            "INSERT INTO tallies (payment_id, event_ids) VALUES (%s, %s) "
            "ON CONFLICT (payment_id) DO UPDATE SET event_ids = excluded.event_ids",
            [(s.payment_id, s.event_ids) for s in states],
        )


def tally(event: PaymentInitiated, state: Tally | None) -> Tally:
    """Applies the event and records a follow-up of its own."""
    state = state or Tally(event.payment_id, [])
    state.event_ids.append(event.event_id)
    state.events.append(
        PaymentFailed(
            payment_id=event.payment_id, event_id=str(uuid.uuid4()), code="test", reason="follow-up"
        )
    )
    return state


Apply = Callable[[PaymentInitiated, Tally | None], Tally]


def applied(engine: Engine, payment_id: str) -> list[str]:
    with engine.connect() as conn:
        ids = conn.execute(
            select(tallies.c.event_ids).where(tallies.c.payment_id == payment_id)
        ).scalar()
    return list(ids or [])


@contextmanager
def running_batch_loop(
    broker: str,
    engine: Engine,
    topic: str,
    handler: Apply,
    group: str,
    policy: RetryPolicy = FAST_RETRIES,
    batch_size: int = 500,
    loop_codec: Codec = codec,
) -> Iterator[BatchLoop]:
    """The batch loop and the retry worker, wired as `paykit.service` wires them; stopped and
    joined on leaving."""
    stop = threading.Event()
    factory = sessionmaker(engine)
    state_handlers = StateHandlers(Tallies(), {PaymentInitiated: handler})
    dispatcher, dead_letters = dispatching(broker, factory, per_message(state_handlers), {}, policy)
    loop = BatchLoop(
        bootstrap=broker,
        group_id=group,
        client_id="test",
        topics=[topic],
        codec=loop_codec,
        database_url=libpq_url(engine),
        state_handlers=state_handlers,
        dispatcher=dispatcher,
        dead_letters=dead_letters,
        stop=stop,
        batch_size=batch_size,
    )
    with running_beside(loop.run, RetryWorker(dispatcher, factory, stop).run, stop=stop):
        yield loop
