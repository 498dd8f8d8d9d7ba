"""psp-sim's own connections to its database: what they ask of PostgreSQL."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from psp_sim.database import connection_pool

pytestmark = pytest.mark.integration


def synchronous_commit_of_the_pool(database_url: str) -> str:
    async def show() -> str:
        async with connection_pool(database_url) as pool, pool.connection() as conn:
            row = await (await conn.execute("SHOW synchronous_commit")).fetchone()
        assert row is not None
        return str(row[0])

    return asyncio.run(show())


def test_operations_commit_without_waiting_for_the_wal_flush(psp_database: str) -> None:
    assert synchronous_commit_of_the_pool(psp_database) == "off"


def test_other_connections_to_the_same_database_keep_synchronous_commits(
    psp_database: str,
) -> None:
    synchronous_commit_of_the_pool(psp_database)
    with psycopg.connect(psp_database) as conn:
        assert conn.execute("SHOW synchronous_commit").fetchone() == ("on",)
