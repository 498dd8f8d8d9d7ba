"""What the BFF's integration tests do to its database and API: count rows, read the outbox,
feed the projector events as the consumer loop does, and make a captured payment or a checkout
session to work on."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import psycopg
from bff_events import capture_failed, captured_lines, confirmed, succeeded

from bff.auth import issue_token
from payment_events.codec import Codec
from payment_events.registry import FileRegistry

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

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


# new_payment() has two seller lines: line 0 of 1000 and line 1 of 250.
BOTH_LINES = {0: 1000, 1: 250}


def accept(api: TestClient) -> str:
    response = api.post("/v1/payments", json=new_payment(), headers=new_key())
    assert response.status_code == 202
    return str(response.json()["payment_id"])


def captured_payment(
    api: TestClient, projector: Projector, lines: dict[int, int] | None = None
) -> str:
    """A payment the projector saw captured: both lines in full, or only `lines` (the others
    failed). It happened in the last seconds, so what the test does next comes after it."""
    payment_id = accept(api)
    lines = BOTH_LINES if lines is None else lines
    deliver(projector, succeeded(payment_id, seconds=-4, amount=1250))
    deliver(projector, confirmed(payment_id, seconds=-3))
    for line_no in sorted(set(BOTH_LINES) - set(lines)):
        deliver(projector, capture_failed(payment_id, seconds=-2, line_no=line_no))
    partial = lines != BOTH_LINES
    deliver(projector, captured_lines(payment_id, lines, partial=partial, seconds=-1))
    return payment_id


def new_session(**overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": f"cus_{uuid.uuid4().hex[:8]}",
        "currency": "EUR",
        "lines": [
            {"seller_id": "seller_a", "amount_minor": 1000},
            {"seller_id": "seller_b", "amount_minor": 250},
        ],
        "return_url": "https://shop.example/cart",
    } | overrides


def open_session(api: TestClient, **overrides: Any) -> tuple[str, str, dict[str, Any]]:
    """(session id, key, the body it was made of)."""
    body = new_session(**overrides)
    created = api.post("/v1/checkout-sessions", json=body)
    assert created.status_code == 201, created.text
    url = urlsplit(created.json()["checkout_url"])
    assert url.path == f"/checkout/{created.json()['session_id']}"
    return created.json()["session_id"], url.fragment, body


def shopper(key: str, **headers: str) -> dict[str, str]:
    """What the page sends: the key, and no client token."""
    return {"Checkout-Key": key, **headers}
