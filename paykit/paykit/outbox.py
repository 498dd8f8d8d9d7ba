"""What an outbox row holds for an event, and the statement that writes one: the unit of work and
the plain-SQL paths that bypass it (the BFF's accept path) write the very same rows."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from psycopg.types.json import Jsonb

from payment_events.catalog import topic_for

if TYPE_CHECKING:
    from paykit.messages import Trace
    from payment_events.codec import Codec
    from payment_events.events import Event


class OutboxRow(TypedDict):
    event_id: str
    topic: str
    key: str
    value: bytes
    headers: dict[str, str]


# psycopg's named placeholders, one per OutboxRow field. An event id names one occurrence
# (payment_events.events.Event): recorded again, it is the same event, already on its way.
# The insert wakes the relay at commit (the trigger of paykit.migrations.notify_on_outbox_insert).
INSERT_OUTBOX_ROW = (
    "INSERT INTO outbox (event_id, topic, key, value, headers) "
    "VALUES (%(event_id)s, %(topic)s, %(key)s, %(value)s, %(headers)s) "
    "ON CONFLICT (event_id) DO NOTHING"
)


def outbox_row(codec: Codec, event: Event, trace: Trace) -> OutboxRow:
    """The row that publishes `event` keyed by its payment, Avro-encoded, with the trace's
    headers."""
    return {
        "event_id": event.event_id,
        "topic": topic_for(type(event)).name,
        "key": event.payment_id,
        "value": codec.encode(event),
        "headers": trace.headers(type(event).__name__),
    }


def as_parameters(row: OutboxRow) -> dict[str, object]:
    """`row` as psycopg binds INSERT_OUTBOX_ROW's parameters: the headers as JSONB."""
    return {**row, "headers": Jsonb(row["headers"])}
