"""orders' tables (written in plain SQL by `orders.adapters.order_store`)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

from orders.domain.model import OrderStatus
from paykit.db import row_timestamps
from payment_events.events import SellerLine

if TYPE_CHECKING:
    from sqlalchemy import Dialect

metadata = MetaData()


class SellerLines(TypeDecorator[tuple[SellerLine, ...]]):
    """An order's lines as one JSON array: written with the order, always read whole."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(
        self, value: tuple[SellerLine, ...] | None, dialect: Dialect
    ) -> list[dict[str, Any]] | None:
        return None if value is None else [dataclasses.asdict(line) for line in value]

    def process_result_value(
        self, value: Any | None, dialect: Dialect
    ) -> tuple[SellerLine, ...] | None:
        return None if value is None else tuple(SellerLine(**line) for line in value)


orders = Table(
    "orders",
    metadata,
    Column("order_id", Text, primary_key=True),
    Column("payment_id", Text, nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("authorization_id", Text, nullable=False),
    Column("lines", SellerLines, nullable=False),
    Column("status", Enum(OrderStatus, native_enum=False, length=20), nullable=False),
    Column("refusal_code", Text),
    Column("refusal_reason", Text),
    *row_timestamps(),
    # No payment ever gets two orders, whatever event ids its duplicates carry.
    UniqueConstraint("payment_id", name="orders_one_per_payment"),
)

# Every SSO token issued, for audit and revocation; the token itself is a bearer credential
# and is not kept.
sso_tokens = Table(
    "sso_tokens",
    metadata,
    Column("jti", Text, primary_key=True),
    Column("order_id", Text, ForeignKey("orders.order_id"), nullable=False),
    Column("customer_id", Text, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Index("sso_tokens_by_order", "order_id"),
)
