"""What the BFF's integration tests do to its database: count rows, read the outbox, and feed
the projector events as the consumer loop does."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import psycopg

from bff.auth import issue_token
from payment_events.codec import Codec
from payment_events.registry import FileRegistry

if TYPE_CHECKING:
    from bff.projector.bootstrap import Projector
    from payment_events.events import Event

CODEC = Codec(FileRegistry())
SECRET = "bff-test-secret-0123456789abcdef-0123456789"
TABLES = (
    "payments",
    "payment_history",
    "refunds",
    "idempotency_keys",
    "checkout_sessions",
    "outbox",
)


def new_payment(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": f"cus_{uuid.uuid4().hex[:8]}",
        "currency": "EUR",
        "payment_method": "pm_card_visa",
        "lines": [
            {"seller_id": f"seller_{uuid.uuid4().hex[:6]}", "amount_minor": 1000},
            {"seller_id": f"seller_{uuid.uuid4().hex[:6]}", "amount_minor": 250},
        ],
        "return_url": "https://shop.example/thanks",
    } | overrides


def new_key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


def bearer(client_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(SECRET, client_id, 300)}"}


def row_counts(database_url: str) -> dict[str, int]:
    with psycopg.connect(database_url) as conn:
        counts = {}
        for table in TABLES:
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert row is not None
            counts[table] = int(row[0])
        return counts


def outbox_rows(database_url: str) -> list[tuple[str, str, Event, dict[str, str]]]:
    """(topic, key, decoded event, headers) of every outbox row, oldest first."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT topic, key, value, headers FROM outbox ORDER BY id").fetchall()
    return [(topic, key, CODEC.decode(value), headers) for topic, key, value, headers in rows]


def deliver(projector: Projector, event: Event) -> bool:
    """As the consumer loop does it: claim, handle, commit; False for a duplicate."""
    with projector.unit_of_work() as uow:
        if not uow.claim(event.event_id, "test", 0, 0):
            return False
        projector.handlers[type(event)](event, uow)
        uow.commit()
    return True
