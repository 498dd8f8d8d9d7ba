"""Alembic helpers: every service's `migrations/env.py` calls `run_migrations`, payctl and tests
call `upgrade`. The inbox and outbox tables come from here so no service copies their DDL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import command, context, op
from alembic.config import Config

from paykit.db import inbox, make_engine, outbox, sqlalchemy_url

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
    """The inbox and outbox, for a service's first revision."""
    for table in (inbox, outbox):
        op.create_table(table.name, *[c.copy() for c in table.columns])
        for index in table.indexes:
            op.create_index(
                index.name or "",
                table.name,
                [c.name for c in index.columns],
                postgresql_where=index.dialect_options["postgresql"]["where"],
                unique=index.unique,
            )
