"""`payctl trace PAYMENT_ID`: one payment across the system: its events on every topic in time
order, the rows each service holds for it, the provider's operations, its retries and dead
letters."""

from __future__ import annotations

import os
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from payctl.errors import OpsError
from payctl.ops.command import data_dir_option, json_option, refusing, target_of
from payctl.ops.output import emit_json, table
from payctl.ops.trace_events import MARGIN, Found, read_payment_messages, windows_around
from payctl.ops.trace_rows import read_rows
from payment_events.codec import Codec
from payment_events.registry import registry_for

if TYPE_CHECKING:
    from pathlib import Path

    from payctl.ops.target import Target
    from payctl.ops.trace_events import Read, Window
    from payctl.ops.trace_rows import Rows

TIMELINE = ("at", "topic", "partition", "offset", "event", "event_id", "producer")
CAUSES = ("event_id", "correlation_id", "causation_id")
# A payment in one of these may still get events the BFF has not seen yet.
EARLIEST = datetime.min.replace(tzinfo=UTC)
SETTLED = {"CAPTURED", "PARTIALLY_CAPTURED", "DECLINED", "FAILED", "REFUNDED"}


@dataclass(frozen=True)
class Trace:
    payment_id: str
    rows: Rows
    windows: list[Window]
    read: Read

    @property
    def events(self) -> list[Found]:
        return _in_time_order(f for f in self.read.found if not f.topic.endswith(".dlq"))

    @property
    def dead_letters(self) -> list[Found]:
        return _in_time_order(f for f in self.read.found if f.topic.endswith(".dlq"))


def _in_time_order(found: Any) -> list[Found]:
    return sorted(found, key=lambda f: (f.at or EARLIEST, f.topic, f.offset))


def payment_id_of(text: str) -> str:
    try:
        # Payment ids are the lowercase, hyphenated form the BFF gives; the key bytes are those.
        return str(uuid.UUID(text))
    except ValueError:
        raise OpsError(f"{text!r} is not a payment id: payment ids are UUIDs") from None


def trace_payment(target: Target, codec: Codec, payment_id: str) -> Trace:
    rows = read_rows(target, payment_id)
    moments = rows.moments()
    if not moments:
        # Nothing to bound the read with, and a payment no service knows has no events worth
        # scanning every topic for.
        raise OpsError(f"no payment {payment_id}: no service holds a row for it")
    bff = rows.bff_payment
    moving = bff is None or bff["status"] not in SETTLED or any(rows.retry_schedule.values())
    windows = windows_around(moments, open_ended=moving)
    read = read_payment_messages(target, codec, payment_id, windows, min(moments) - MARGIN)
    return Trace(payment_id, rows, windows, read)


@click.command()
@click.argument("payment_id")
@json_option
@data_dir_option
@refusing
def trace(payment_id: str, as_json: bool, data_dir: Path) -> None:
    """One payment as a timeline: every event keyed by PAYMENT_ID on every topic (time, topic,
    partition, offset, event, producer, correlation and causation ids), the rows each service
    holds for it, the provider's operations, its retry-schedule rows and dead letters. Reads
    only the key's partition of each topic, around the moments the rows record. Exits 2 for a
    malformed or unknown payment id."""
    payment_id = payment_id_of(payment_id)
    codec = Codec(registry_for(os.environ.get("SCHEMA_REGISTRY_URL")))
    found = trace_payment(target_of(data_dir), codec, payment_id)
    if as_json:
        emit_json(trace_document(found))
    else:
        click.echo(trace_text(found))


def trace_document(t: Trace) -> dict[str, Any]:
    bff = t.rows.bff_payment
    return {
        "payment_id": t.payment_id,
        "status": bff["status"] if bff else None,
        "events": [_event(f) for f in t.events],
        "dead_letters": [_event(f) | {"headers": f.headers} for f in t.dead_letters],
        "rows": t.rows.tables,
        "retry_schedule": t.rows.retry_schedule,
        "provider_operations": t.rows.provider_operations,
        "provider_note": t.rows.provider_note,
        "windows": [asdict(w) for w in t.windows],
        "ranges": [
            {"topic": topic, "partition": p, "from": start, "to": end}
            for topic, p, start, end in t.read.ranges
        ],
        "messages_read": t.read.messages_read,
    }


def _event(f: Found) -> dict[str, Any]:
    return {
        "at": f.at,
        "topic": f.topic,
        "partition": f.partition,
        "offset": f.offset,
        "event": f.event,
        "event_id": f.event_id,
        "producer": f.producer,
        "correlation_id": f.correlation_id,
        "causation_id": f.causation_id,
        "error": f.error,
    }


def trace_text(t: Trace) -> str:
    bff = t.rows.bff_payment
    parts = [f"payment {t.payment_id}  status {bff['status'] if bff else '(no BFF row)'}"]
    # Milliseconds: one payment's events are often all in the same second.
    timeline = [
        _event(f) | {"at": f.at and f.at.isoformat(timespec="milliseconds")} for f in t.events
    ]
    parts += ["", "events", _or_none(timeline, TIMELINE)]
    parts += ["", "causes", _or_none([_event(f) for f in t.events], CAUSES)]
    if t.dead_letters:
        dead = [_event(f) | {"error": f.headers.get("dlq.error.code")} for f in t.dead_letters]
        parts += ["", "dead letters", table(dead, (*TIMELINE, "error"))]
    for database, tables in t.rows.tables.items():
        for name, rows in tables.items():
            if rows:
                parts += ["", f"{database}.{name}", table(rows, list(rows[0]))]
    for database, rows in t.rows.retry_schedule.items():
        if rows:
            parts += ["", f"{database}.retry_schedule", table(rows, list(rows[0]))]
    if t.rows.provider_operations is not None:
        ops = t.rows.provider_operations
        parts += ["", "provider operations", _or_none(ops, list(ops[0]) if ops else [])]
    else:
        parts += ["", f"provider operations: not read ({t.rows.provider_note})"]
    parts += ["", f"{t.read.messages_read} messages read"]
    return "\n".join(parts)


def _or_none(rows: list[dict[str, Any]], columns: Any) -> str:
    return table(rows, columns) if rows else "(none)"
