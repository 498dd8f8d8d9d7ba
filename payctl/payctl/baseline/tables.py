"""The baseline's tables, created at start-up (bench tooling: no migrations to keep)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from paykit.db import row_timestamps

if TYPE_CHECKING:
    from sqlalchemy import Engine

metadata = MetaData()

# One row per Idempotency-Key: claimed when a checkout starts, holding its answer once it is
# final, so a repeat replays it.
checkouts = Table(
    "checkouts",
    metadata,
    Column("payment_id", Text, primary_key=True),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("fingerprint", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("captured_minor", BigInteger, nullable=False, server_default="0"),
    Column("authorization_id", Text),
    Column("order_id", Text),
    Column("answer_status", Integer),
    Column("answer", JSONB),
    *row_timestamps(),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", Text, primary_key=True),
    Column("payment_id", Text, nullable=False, unique=True),
    Column("customer_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("authorization_id", Text, nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("sso_jti", Text),
    *row_timestamps(),
)


def create_tables(engine: Engine) -> None:
    metadata.create_all(engine)
