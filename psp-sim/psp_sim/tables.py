"""psp-sim's tables: the ledger of operations and the idempotency keys that guard it."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

# Append-only: one row per operation performed. An authorization's captures, voids and refunds
# point at it through authorization_id (an authorization points at itself), and a refund at its
# capture through capture_id, so every state is the sum of rows and nothing is ever updated.
operations = Table(
    "operations",
    metadata,
    Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("idempotency_key", Text, nullable=False, unique=True),
    Column("reference", Text, nullable=False),
    Column("authorization_id", Text, nullable=False),
    Column("capture_id", Text),
    Column("amount_minor", BigInteger),
    Column("currency", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("decline_code", Text),
    Column("decline_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "kind IN ('authorization', 'capture', 'void', 'refund')", name="operations_kind"
    ),
    Index("operations_reference", "reference"),
    Index("operations_authorization_id", "authorization_id"),
    Index("operations_capture_id", "capture_id"),
)

# One row per Idempotency-Key: the request's fingerprint and the response first given to it.
# The row is inserted before the operation runs, in the same transaction, so a concurrent request
# with the same key waits on it and then replays the stored response.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("status_code", Integer),
    Column("response", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
