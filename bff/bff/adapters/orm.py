"""The BFF's tables, mapped onto the domain classes from outside the domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
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

from bff.domain.checkout import CheckoutLine, CheckoutSession
from bff.domain.line import LineCapture, PaymentLine
from bff.domain.payment import HistoryEntry, Payment
from bff.domain.refund import Refund, RefundStatus
from bff.domain.status import PaymentStatus
from paykit.db import map_aggregate
from payment_events.events import RefundLine

metadata = MetaData()
mapper_registry = registry(metadata=metadata)


def payment_lines_json(lines: list[PaymentLine]) -> list[dict[str, Any]]:
    """A payment's lines as its `lines` column holds them (the accept path writes them too)."""
    return [
        {
            "line_no": x.line_no,
            "seller_id": x.seller_id,
            "amount_minor": x.amount_minor,
            "capture_status": x.capture_status.value,
            "captured_minor": x.captured_minor,
        }
        for x in lines
    ]


def payment_lines(value: list[dict[str, Any]]) -> list[PaymentLine]:
    """A payment's lines from its `lines` column. Rows written before lines kept their capture
    read as not captured yet."""
    return [
        PaymentLine(
            line_no=line["line_no"],
            seller_id=line["seller_id"],
            amount_minor=line["amount_minor"],
            capture_status=LineCapture(line.get("capture_status", LineCapture.PENDING)),
            captured_minor=line.get("captured_minor", 0),
        )
        for line in value
    ]


def refund_lines(value: list[dict[str, Any]]) -> tuple[RefundLine, ...]:
    return tuple(RefundLine(**line) for line in value)


def refund_lines_json(lines: tuple[RefundLine, ...]) -> list[dict[str, int]]:
    return [{"line_no": x.line_no, "amount_minor": x.amount_minor} for x in lines]


def checkout_lines(value: list[dict[str, Any]]) -> list[CheckoutLine]:
    """A checkout session's lines from its `lines` column (the accept path reads them too)."""
    return [CheckoutLine(**line) for line in value]


class PaymentLines(TypeDecorator[list[PaymentLine]]):
    """The seller lines of a payment as one JSONB array: they are read together, never alone."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: list[PaymentLine] | None, dialect: Any) -> Any:
        if value is None:
            return None
        return payment_lines_json(value)

    def process_result_value(self, value: Any, dialect: Any) -> list[PaymentLine] | None:
        if value is None:
            return None
        return payment_lines(value)


class RefundLines(TypeDecorator[tuple[RefundLine, ...]]):
    """What one refund asks back per seller line, as one JSONB array."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: tuple[RefundLine, ...] | None, dialect: Any) -> Any:
        if value is None:
            return None
        return refund_lines_json(value)

    def process_result_value(self, value: Any, dialect: Any) -> tuple[RefundLine, ...] | None:
        if value is None:
            return None
        return refund_lines(value)


class CheckoutLines(TypeDecorator[list[CheckoutLine]]):
    """What a checkout session will charge per seller, as one JSONB array."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: list[CheckoutLine] | None, dialect: Any) -> Any:
        if value is None:
            return None
        return [{"seller_id": x.seller_id, "amount_minor": x.amount_minor} for x in value]

    def process_result_value(self, value: Any, dialect: Any) -> list[CheckoutLine] | None:
        if value is None:
            return None
        return checkout_lines(value)


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
    Column("lines", PaymentLines, nullable=False),
    Column("return_url", Text),
    Column("status", _status(), nullable=False),
    Column("authorized_minor", BigInteger, nullable=False),
    Column("captured_minor", BigInteger, nullable=False),
    Column("refunded_minor", BigInteger, nullable=False, server_default="0"),
    Column("order_id", Text),
    Column("sso_token", Text),
    Column("redirect_url", Text),
    Column("failure_code", Text),
    Column("failure_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("refunded_minor <= captured_minor", name="payments_refunded_within_captured"),
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

# One row per refund asked of a payment; its lines say how much of which seller line.
refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", Text, primary_key=True),
    Column("payment_id", Text, ForeignKey("payments.payment_id"), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("lines", RefundLines, nullable=False),
    Column("status", Enum(RefundStatus, native_enum=False, length=20), nullable=False),
    Column("reason", Text),
    Column("failure_code", Text),
    Column("failure_reason", Text),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount_minor > 0", name="refunds_amount_positive"),
    Index("refunds_by_payment", "payment_id", "requested_at"),
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


# A payment prepared by a product backend for its shopper to pay; `payment_id` is its last try.
checkout_sessions = Table(
    "checkout_sessions",
    metadata,
    Column("session_id", Text, primary_key=True),
    Column("client_id", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("lines", CheckoutLines, nullable=False),
    Column("return_url", Text),
    Column("key_digest", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    # Checked at commit: the session's update may be flushed before its payment's insert.
    Column(
        "payment_id",
        Text,
        ForeignKey("payments.payment_id", deferrable=True, initially="DEFERRED"),
    ),
    Column("attempts", Integer, nullable=False),
)


def start_mappers() -> None:
    map_aggregate(mapper_registry, CheckoutSession, checkout_sessions)
    map_aggregate(
        mapper_registry,
        Payment,
        payments,
        parts={HistoryEntry: payment_history, Refund: refunds},
        properties={
            "history": relationship(
                HistoryEntry,
                order_by=[payment_history.c.at, payment_history.c.id],
                cascade="all, delete-orphan",
                lazy="selectin",
            ),
            "refunds": relationship(
                Refund,
                order_by=[refunds.c.requested_at, refunds.c.refund_id],
                cascade="all, delete-orphan",
                lazy="selectin",
            ),
        },
    )
