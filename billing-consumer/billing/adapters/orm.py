"""billing's tables, mapped onto the domain classes from outside the domain."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Enum, MetaData, Table, Text, func
from sqlalchemy.orm import registry

from billing.domain.model import Authorization, AuthorizationStatus
from paykit.db import map_aggregate

metadata = MetaData()
mapper_registry = registry(metadata=metadata)

authorizations = Table(
    "authorizations",
    metadata,
    Column("payment_id", Text, primary_key=True),
    Column("customer_id", Text, nullable=False),
    Column("currency", Text, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("payment_method", Text, nullable=False),
    Column(
        "status",
        Enum(AuthorizationStatus, native_enum=False, length=20),
        nullable=False,
    ),
    Column("provider_authorization_id", Text),
    Column("decline_code", Text),
    Column("decline_reason", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column(
        "updated_at",
        DateTime(timezone=True),
        nullable=False,
        server_default=func.now(),
        onupdate=func.now(),
    ),
)


def start_mappers() -> None:
    map_aggregate(mapper_registry, Authorization, authorizations)
