"""psp-sim's connections: one psycopg pool, opened when the server starts, and the errors that
mean its database cannot be reached."""

from __future__ import annotations

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

# An operation holds a connection for one statement (after the simulated latency): about a
# millisecond, so 20 serve thousands of operations a second.
POOL_SIZE = 20
# Below the provider client's 5 s timeout: with its database gone the server answers a clear
# 503 database_unavailable rather than letting its caller time out.
POOL_TIMEOUT_SECONDS = 3.0

UNAVAILABLE: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    PoolTimeout,
)


def connection_pool(database_url: str) -> AsyncConnectionPool:
    """The pool, not yet open: the server's lifespan opens it, so nothing connects at import.
    No check on checkout (a pre-ping is a round trip per operation): a connection the server
    dropped fails its operation with 503, and the pool replaces it."""
    return AsyncConnectionPool(
        database_url,
        min_size=4,
        max_size=POOL_SIZE,
        timeout=POOL_TIMEOUT_SECONDS,
        # Each operation is one statement, so it is its own transaction.
        kwargs={"autocommit": True},
        open=False,
        name="psp-sim",
    )
