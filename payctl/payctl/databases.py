"""The services' databases: created on a PostgreSQL server when missing, migrated to head."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import structlog
from psycopg import sql
from sqlalchemy.exc import SQLAlchemyError

from payctl.errors import StackError
from payctl.services import DATABASES, database_url_on
from paykit.migrations import upgrade

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

log = structlog.get_logger()


def ensure_database(server_url: str, name: str) -> str:
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url_on(server_url, name)


def migrate(package: str, database_url: str) -> None:
    # Imported by name: payctl must not import every service when it only needs one path.
    migrations = Path(importlib.import_module(package).MIGRATIONS)
    upgrade(migrations, database_url)


def prepare_databases(
    env: Mapping[str, str], start_server: Callable[[], str] | None = None
) -> dict[str, str]:
    """Each database from its own variable, else created on the DATABASE_URL server, else on
    the server `start_server` starts (called only when a database needs it); then every one is
    migrated to head. Returns each database's URL; running it again changes nothing.

    The embedded stack (`payctl up`) and the one-shot job (`payctl migrate`) both run this."""
    server = env.get("DATABASE_URL")
    urls: dict[str, str] = {}
    for db in DATABASES:
        if env.get(db.env_var):
            urls[db.name] = env[db.env_var]
            continue
        if server is None:
            if start_server is None:
                raise StackError(f"no database for {db.name}: set {db.env_var} or DATABASE_URL")
            server = start_server()
        try:
            urls[db.name] = ensure_database(server, db.name)
        except psycopg.Error as e:
            raise StackError(f"cannot create the database {db.name}: {e}") from e
    for db in DATABASES:
        try:
            migrate(db.package, urls[db.name])
        except SQLAlchemyError as e:
            raise StackError(f"cannot migrate the database {db.name}: {e}") from e
    log.info("databases_migrated", databases=[db.name for db in DATABASES])
    return urls
