"""How the BFF's processes connect to their database, and what they do when it is not there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg_pool import AsyncConnectionPool
from sqlalchemy import event

from paykit.db import libpq_url

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from sqlalchemy import Engine

# A database that is unreachable without refusing (a host down, packets dropped) would hold each
# connection attempt for the kernel's TCP timeout, minutes: the API's requests and the health
# checks with it. Bounded, it is a prompt 503 and a not-ready health check.
CONNECT_TIMEOUT_SECONDS = 3


def bound_connect_time(engine: Engine) -> None:
    @event.listens_for(engine, "do_connect")
    def _with_timeout(_dialect: Any, _record: Any, _args: Any, params: dict[str, Any]) -> None:
        # A `connect_timeout` in BFF_DATABASE_URL wins.
        params.setdefault("connect_timeout", CONNECT_TIMEOUT_SECONDS)


def accept_connections(engine: Engine, size: int) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """The accept path's pool (`bff.adapters.acceptance`), unopened, to the engine's database.

    No check before each use (a round trip per request): a connection a restart broke fails its
    statement (a 503, the client retries with its key), and the acceptance then checks the rest.
    Autocommit: a single statement is its own transaction, with no BEGIN and COMMIT round trips.
    """
    return AsyncConnectionPool(
        libpq_url(engine),
        # A `connect_timeout` in BFF_DATABASE_URL wins.
        kwargs={"autocommit": True, **({} if "connect_timeout" in engine.url.query else _BOUNDED)},
        min_size=1,
        max_size=size,
        # Waiting longer for a connection than for a connect would hold the request beyond the
        # bound, for the same outage.
        timeout=CONNECT_TIMEOUT_SECONDS,
        open=False,
        name="bff-accept",
    )


_BOUNDED = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
