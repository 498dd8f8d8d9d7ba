"""How the BFF's processes connect to their database when it is not there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event

if TYPE_CHECKING:
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
