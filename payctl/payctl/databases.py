"""The services' databases: created on a PostgreSQL server when missing, migrated to head."""

from __future__ import annotations

import importlib
from pathlib import Path

import psycopg
from psycopg import sql

from payctl.services import database_url_on
from paykit.migrations import upgrade


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
