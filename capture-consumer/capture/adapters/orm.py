"""capture's tables, mapped onto the domain classes from outside the domain; the ledger's tables
are written and read with Core (`capture.adapters.ledger`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.orm import registry, relationship

from capture.domain.model import Payment
from capture.domain.payment_order import PaymentOrder
from capture.domain.refund import Refund, SellerRefund
from capture.domain.states import (
    PaymentOrderStatus,
    PaymentStatus,
    RefundStatus,
    SellerRefundStatus,
)
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
    Column("refunded_minor", BigInteger, nullable=False),
    Column("status", Enum(PaymentStatus, native_enum=False, length=20), nullable=False),
    *row_timestamps(),
    # The domain refuses these first; the database keeps them true whatever code writes the row.
    CheckConstraint("captured_minor <= authorized_minor", name="payments_captured_within_held"),
    CheckConstraint(
        "refunded_minor >= 0 AND refunded_minor <= captured_minor",
        name="payments_refunded_within_captured",
    ),
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
    Column("refunded_minor", BigInteger, nullable=False),
    *row_timestamps(),
    UniqueConstraint("payment_id", "line_no", name="payment_orders_one_per_line"),
    CheckConstraint("amount_minor > 0", name="payment_orders_positive_amount"),
    CheckConstraint(
        "refunded_minor >= 0 AND refunded_minor <= amount_minor"
        " AND (refunded_minor = 0 OR status = 'CAPTURED')",
        name="payment_orders_refunded_within_captured",
    ),
)

refunds = Table(
    "refunds",
    metadata,
    Column("refund_id", Text, primary_key=True),
    Column("payment_id", Text, ForeignKey("payments.payment_id"), nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("reason", Text),
    Column("status", Enum(RefundStatus, native_enum=False, length=20), nullable=False),
    Column("failure_code", Text),
    Column("failure_reason", Text),
    *row_timestamps(),
    Index("refunds_payment", "payment_id"),
)

refund_lines = Table(
    "refund_lines",
    metadata,
    Column("refund_id", Text, ForeignKey("refunds.refund_id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("payment_id", Text, nullable=False),
    Column("payment_order_id", Text, ForeignKey("payment_orders.payment_order_id"), nullable=False),
    Column("seller_id", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("status", Enum(SellerRefundStatus, native_enum=False, length=20), nullable=False),
    Column("provider_refund_id", Text),
    Column("failure_code", Text),
    Column("failure_reason", Text),
    *row_timestamps(),
    CheckConstraint("amount_minor > 0", name="refund_lines_positive_amount"),
)

# One entry per capture or refund of a seller line: the entry id is derived from that line, so a
# second entry for it cannot be written. Entries and postings are only ever inserted.
journal_entries = Table(
    "journal_entries",
    metadata,
    Column("entry_id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("payment_id", Text, nullable=False),
    Column("payment_order_id", Text, nullable=False),
    Column("refund_id", Text),
    Column("currency", Text, nullable=False),
    Column("posted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('capture', 'refund')", name="journal_entries_kind"),
)

# Signed amounts, credit > 0, debit < 0; a deferred trigger (revision 0003) refuses a commit
# that leaves any entry's postings not summing to zero.
postings = Table(
    "postings",
    metadata,
    Column("posting_id", BigInteger, Identity(always=True), primary_key=True),
    Column("entry_id", Text, ForeignKey("journal_entries.entry_id"), nullable=False),
    Column("account", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    CheckConstraint("amount_minor <> 0", name="postings_not_zero"),
    Index("postings_account", "account"),
    Index("postings_entry", "entry_id"),
)


def start_mappers() -> None:
    if any(m.class_ is Payment for m in mapper_registry.mappers):
        return  # once per process, whoever asks first
    mapper_registry.map_imperatively(SellerRefund, refund_lines)
    mapper_registry.map_imperatively(
        Refund,
        refunds,
        properties={"lines": relationship(SellerRefund, order_by=refund_lines.c.line_no)},
    )
    map_aggregate(
        mapper_registry,
        Payment,
        payments,
        parts={PaymentOrder: payment_orders},
        properties={
            "orders": relationship(PaymentOrder, order_by=payment_orders.c.line_no),
            "refunds": relationship(Refund, order_by=(refunds.c.created_at, refunds.c.refund_id)),
        },
    )
    event.listen(Payment, "load", _nothing_posted_yet)


def _nothing_posted_yet(target: Any, _context: object) -> None:
    # A payment just loaded has posted no journal entry yet in this unit of work.
    target.journal = []
