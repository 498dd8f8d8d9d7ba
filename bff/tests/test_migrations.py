"""The BFF's migrations on a real Postgres: payments recorded before refunds existed read right
after the upgrade, and the refunds revision downgrades to what its predecessor's code reads."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from bff_support import SECRET, bearer, new_key
from fastapi.testclient import TestClient

import bff
from bff.main import create_app
from bff.settings import Settings
from paykit.db import sqlalchemy_url
from paykit.migrations import upgrade

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

BEFORE_REFUNDS = "0002"
CLIENT = "shop"
OLD_LINES = [
    {"line_no": 0, "seller_id": "seller_a", "amount_minor": 1000},
    {"line_no": 1, "seller_id": "seller_b", "amount_minor": 250},
]


def insert_payment_as_of_0002(database_url: str, status: str, captured_minor: int) -> str:
    payment_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with psycopg.connect(database_url) as conn:
        conn.execute(
            """
            INSERT INTO payments (payment_id, client_id, customer_id, currency, amount_minor,
                lines, status, authorized_minor, captured_minor, created_at, updated_at)
            VALUES (%s, %s, 'cus_1', 'EUR', 1250, %s, %s, 1250, %s, %s, %s)
            """,
            (payment_id, CLIENT, json.dumps(OLD_LINES), status, captured_minor, now, now),
        )
    return payment_id


def lines_of(database_url: str, payment_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT lines FROM payments WHERE payment_id = %s", (payment_id,))
        found = row.fetchone()
    assert found is not None
    lines: list[dict[str, Any]] = found[0]
    return lines


@pytest.fixture
def database_before_refunds(fresh_database: str) -> str:
    upgrade(bff.MIGRATIONS, fresh_database, BEFORE_REFUNDS)
    return fresh_database


@pytest.fixture
def api(database_before_refunds: str) -> Iterator[TestClient]:
    settings = Settings(BFF_DATABASE_URL=database_before_refunds, BFF_AUTH_SECRET=SECRET)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.headers.update(bearer(CLIENT))
        yield client


def test_a_payment_captured_before_refunds_existed_can_be_refunded_after_the_upgrade(
    database_before_refunds: str, api: TestClient
) -> None:
    captured = insert_payment_as_of_0002(database_before_refunds, "CAPTURED", 1250)
    confirmed = insert_payment_as_of_0002(database_before_refunds, "ORDER_CONFIRMED", 0)

    upgrade(bff.MIGRATIONS, database_before_refunds)

    shown = api.get(f"/v1/payments/{captured}").json()
    assert [(x["capture_status"], x["captured_minor"]) for x in shown["lines"]] == [
        ("CAPTURED", 1000),
        ("CAPTURED", 250),
    ]
    assert (shown["refunded_minor"], shown["refundable_minor"], shown["refunds"]) == (0, 1250, [])
    pending = api.get(f"/v1/payments/{confirmed}").json()["lines"]
    assert [(x["capture_status"], x["captured_minor"]) for x in pending] == [("PENDING", 0)] * 2
    refund = api.post(f"/v1/payments/{captured}/refunds", json={}, headers=new_key())
    assert (refund.status_code, refund.json()["amount_minor"]) == (202, 1250)


def test_the_refunds_revision_downgrades_to_what_its_predecessor_reads(
    database_before_refunds: str,
) -> None:
    payment_id = insert_payment_as_of_0002(database_before_refunds, "CAPTURED", 1250)
    upgrade(bff.MIGRATIONS, database_before_refunds)
    with psycopg.connect(database_before_refunds) as conn:
        conn.execute("UPDATE payments SET status = 'REFUNDED', refunded_minor = 1250")

    cfg = Config()
    cfg.set_main_option("script_location", str(bff.MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_before_refunds))
    command.downgrade(cfg, BEFORE_REFUNDS)

    assert lines_of(database_before_refunds, payment_id) == OLD_LINES
    with psycopg.connect(database_before_refunds) as conn:
        row = conn.execute("SELECT status FROM payments").fetchone()
        refunds = conn.execute("SELECT to_regclass('refunds')").fetchone()
    assert row == ("CAPTURED",)
    assert refunds == (None,)
