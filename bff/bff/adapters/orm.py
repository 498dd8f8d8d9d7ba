"""The BFF's tables, mapped onto the domain classes from outside the domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry, relationship
from sqlalchemy.types import TypeDecorator

from bff.domain.payment import HistoryEntry, Payment
from bff.domain.status import PaymentStatus
from paykit.db import map_aggregate
from payment_events.events import SellerLine

metadata = MetaData()
mapper_registry = registry(metadata=metadata)


class SellerLines(TypeDecorator[list[SellerLine]]):
    """The seller lines of a payment as one JSONB array: they are read together, never alone."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: list[SellerLine] | None, dialect: Any) -> Any:
        if value is None:
            return None
        return [
            {"line_no": x.line_no, "seller_id": x.seller_id, "amount_minor": x.amount_minor}
            for x in value
        ]

    def process_result_value(self, value: Any, dialect: Any) -> list[SellerLine] | None:
        if value is None:
            return None
        return [SellerLine(**line) for line in value]


def _status() -> Enum:
    return Enum(PaymentStatus, native_enum=False, length=20)


payments = Table(
    "payments",
    metadata,
    Column("payment_id", Text, primary_key=True),
    Column("client_id", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("lines", SellerLines, nullable=False),
    Column("return_url", Text),
    Column("status", _status(), nullable=False),
    Column("authorized_minor", BigInteger, nullable=False),
    Column("captured_minor", BigInteger, nullable=False),
    Column("order_id", Text),
    Column("sso_token", Text),
    Column("redirect_url", Text),
    Column("failure_code", Text),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

payment_history = Table(
    "payment_history",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("payment_id", Text, ForeignKey("payments.payment_id"), nullable=False),
    Column("status", _status(), nullable=False),
    Column("event", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("payment_history_by_payment", "payment_id", "at"),
)

# The first answer given to each (client, key): replayed to the same request, refused to another.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("client_id", Text, primary_key=True),
    Column("key", Text, primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("payment_id", Text, nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def start_mappers() -> None:
    map_aggregate(
        mapper_registry,
        Payment,
        payments,
        parts={HistoryEntry: payment_history},
        properties={
            "history": relationship(
                HistoryEntry,
                order_by=[payment_history.c.at, payment_history.c.id],
                cascade="all, delete-orphan",
                lazy="selectin",
            )
        },
    )
