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

# psp-sim stands in for another company's servers and is test tooling, so its commits do not
# wait for the WAL flush: that flush was about a fifth of its database's CPU per operation. A
# clean stop of PostgreSQL (the only stop payctl and the tests make) still writes every commit;
# only a crash of PostgreSQL could forget the last fraction of a second of operations psp-sim had
# answered. Our own services keep synchronous commits.
CONNECTION_OPTIONS = "-c synchronous_commit=off"

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
        kwargs={"autocommit": True, "options": CONNECTION_OPTIONS},
        open=False,
        name="psp-sim",
    )
