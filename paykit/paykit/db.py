"""Database plumbing shared by every service: engines, and the inbox and outbox tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    Text,
    create_engine,
    event,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.orm import registry

messaging_metadata = MetaData()

# One row per event this service has handled, written in the handler's transaction: a redelivered
# event finds its row and changes nothing.
inbox = Table(
    "inbox",
    messaging_metadata,
    Column("event_id", Text, primary_key=True),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Events waiting to be published, written in the same transaction as the state change that
# caused them; the relay publishes in id order and stamps published_at.
outbox = Table(
    "outbox",
    messaging_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Text, nullable=False, unique=True),
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True)),
    Index("outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
)

# Messages waiting to be handled again (see paykit.retries): the message as consumed, how many
# times it was tried, and when it is due. The lowest id per payment is the head of that payment.
retry_schedule = Table(
    "retry_schedule",
    messaging_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", Text, nullable=False, unique=True),
    Column("payment_id", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("key", LargeBinary),
    Column("value", LargeBinary, nullable=False),
    Column("headers", JSONB, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("retry_schedule_payment", "payment_id", "id"),
    Index("retry_schedule_due", "due_at"),
)

# What `payctl replay` re-delivered: the messages of a partition below `redelivered_below` (its
# end when the replay was made) may have been delivered before, so this service may already have
# acted on them (called the provider) even when its database, restored from a backup, does not
# know it. Rows stay: a few per replay, and no later message is ever below them.
replays = Table(
    "replays",
    messaging_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("redelivered_below", BigInteger, nullable=False),
    Column("replayed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


def row_timestamps() -> list[Column[object]]:
    """`created_at` and `updated_at`, kept by the database, for a service's own tables."""
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column(
            "updated_at",
            DateTime(timezone=True),
            nullable=False,
            server_default=func.now(),
            onupdate=func.now(),
        ),
    ]


def map_aggregate(
    mapper_registry: registry,
    aggregate: type,
    table: Table,
    *,
    parts: Mapping[type, Table] | None = None,
    properties: Mapping[str, Any] | None = None,
) -> None:
    """Maps an aggregate (and the entities inside it) onto its tables from outside the domain.

    Once per process, whoever asks first: every bootstrap() and test app calls it. Instances
    loaded from the database start with no recorded events.
    """
    if any(m.class_ is aggregate for m in mapper_registry.mappers):
        return
    for part, part_table in (parts or {}).items():
        mapper_registry.map_imperatively(part, part_table)
    mapper_registry.map_imperatively(aggregate, table, properties=dict(properties or {}))
    event.listen(aggregate, "load", _nothing_recorded_yet)


def _nothing_recorded_yet(target: Any, _context: object) -> None:
    # A row just loaded has recorded nothing yet in this unit of work.
    target.events = []


def sqlalchemy_url(url: str) -> str:
    """Accepts libpq URLs (`postgresql://`) and pins the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def libpq_url(engine: Engine) -> str:
    """The engine's database as psycopg connects to it outside SQLAlchemy."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def make_engine(url: str, pool_size: int = 5, max_overflow: int = 10) -> Engine:
    # pool_pre_ping: a database restart must not surface as errors on the first use of old
    # connections; the runtime retries anyway, this just avoids noise.
    return create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
    )
