"""billing's tables, mapped onto the domain classes from outside the domain."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Enum, MetaData, Table, Text
from sqlalchemy.orm import registry

from billing.domain.model import Authorization, AuthorizationStatus
from paykit.db import map_aggregate, row_timestamps

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
    *row_timestamps(),
)


def start_mappers() -> None:
    map_aggregate(mapper_registry, Authorization, authorizations)
