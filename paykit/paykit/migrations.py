"""Alembic helpers: every service's `migrations/env.py` calls `run_migrations`, payctl and tests
call `upgrade`. The inbox and outbox tables come from here so no service copies their DDL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy.dialects.postgresql import JSONB

from paykit.db import make_engine, sqlalchemy_url

if TYPE_CHECKING:
    from pathlib import Path

    from sqlalchemy import MetaData


def upgrade(script_location: Path, database_url: str, revision: str = "head") -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url))
    command.upgrade(cfg, revision)


def run_migrations(target_metadata: MetaData) -> None:
    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None, "sqlalchemy.url is set by paykit.migrations.upgrade"
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def create_messaging_tables() -> None:
    """The inbox and outbox as of version 1, for a service's first revision.

    Spelled out rather than copied from `paykit.db`: a revision must keep meaning what it meant
    when it ran. A later change to these tables ships as a function of its own, next to this one.
    """
    op.create_table(
        "inbox",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column(
            "handled_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index(
        "outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )


def create_retry_schedule() -> None:
    """The retry schedule as of version 1 (see `paykit.retries`), for a service's revision."""
    op.create_table(
        "retry_schedule",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("payment_id", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("key", sa.LargeBinary),
        sa.Column("value", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    op.create_index("retry_schedule_payment", "retry_schedule", ["payment_id", "id"])
    op.create_index("retry_schedule_due", "retry_schedule", ["due_at"])


def create_replays() -> None:
    """The replays table as of version 1 (`paykit.db.replays`), for a service's revision."""
    op.create_table(
        "replays",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("redelivered_below", sa.BigInteger, nullable=False),
        sa.Column(
            "replayed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def notify_on_outbox_insert() -> None:
    """A trigger that tells the outbox relay when rows are committed (`paykit.relay`): the notice
    is sent at commit, once per transaction however many rows it inserted."""
    op.execute(
        "CREATE FUNCTION outbox_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN PERFORM pg_notify('outbox', ''); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox "
        "FOR EACH STATEMENT EXECUTE FUNCTION outbox_inserted()"
    )


def drop_outbox_notice() -> None:
    op.execute("DROP TRIGGER outbox_inserted ON outbox")
    op.execute("DROP FUNCTION outbox_inserted()")
