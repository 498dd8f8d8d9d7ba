"""capture's tables, mapped onto the domain classes from outside the domain."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Enum,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import registry, relationship

from capture.domain.model import Payment, PaymentOrder, PaymentOrderStatus, PaymentStatus
from paykit.db import map_aggregate, row_timestamps

metadata = MetaData()
mapper_registry = registry(metadata=metadata)


# The primary key on payment_id is what keeps a payment from being split and captured twice
# when the same confirmation arrives under another event id.
payments = Table(
    "payments",
    metadata,
    Column("payment_id", Text, primary_key=True),
    Column("order_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("authorization_id", Text, nullable=False),
    Column("authorized_minor", BigInteger, nullable=False),
    Column("captured_minor", BigInteger, nullable=False),
    Column("status", Enum(PaymentStatus, native_enum=False, length=20), nullable=False),
    *row_timestamps(),
    # The domain refuses this first; the database keeps it true whatever code writes the row.
    CheckConstraint("captured_minor <= authorized_minor", name="payments_captured_within_held"),
)

payment_orders = Table(
    "payment_orders",
    metadata,
    Column("payment_order_id", Text, primary_key=True),
    Column("payment_id", Text, ForeignKey("payments.payment_id"), nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("seller_id", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("status", Enum(PaymentOrderStatus, native_enum=False, length=20), nullable=False),
    Column("capture_id", Text),
    Column("failure_code", Text),
    Column("failure_reason", Text),
    *row_timestamps(),
    UniqueConstraint("payment_id", "line_no", name="payment_orders_one_per_line"),
    CheckConstraint("amount_minor > 0", name="payment_orders_positive_amount"),
)


def start_mappers() -> None:
    map_aggregate(
        mapper_registry,
        Payment,
        payments,
        parts={PaymentOrder: payment_orders},
        properties={"orders": relationship(PaymentOrder, order_by=payment_orders.c.line_no)},
    )
