"""Idempotency keys as Stripe honours them: the same key with the same request replays the first
response; the same key with another request is refused. The key row is claimed in the same
transaction as the operation, so a request in flight holds its key against a concurrent twin.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert

from psp_sim.errors import IdempotencyKeyReused, Rejection
from psp_sim.tables import idempotency_keys

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


# Built once: only their values change from one request to the next.
_CLAIM = (
    insert(idempotency_keys)
    .on_conflict_do_nothing(index_elements=[idempotency_keys.c.key])
    .returning(idempotency_keys.c.key)
)
_STORE_REPLY = update(idempotency_keys).where(idempotency_keys.c.key == bindparam("claimed"))


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    """The request as the key protects it: the same parameters in any order or spacing match."""
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def run_once(
    engine: AsyncEngine,
    key: str,
    request_fingerprint: str,
    perform: Callable[[AsyncConnection], Awaitable[Reply]],
) -> Reply:
    async with engine.begin() as conn:
        # A twin in flight holds the uncommitted key row: this insert waits for it to finish,
        # then conflicts and replays what it stored. If the twin rolled back, this one claims it.
        claimed = (
            await conn.execute(_CLAIM, {"key": key, "fingerprint": request_fingerprint})
        ).first()
        if claimed is None:
            return await _replay(conn, key, request_fingerprint)
        try:
            reply = await perform(conn)
        except Rejection as e:
            # Like Stripe: a request that reached the provider's rules keeps its answer, refusals
            # included, so a retry cannot turn a refused capture into a later success.
            reply = Reply(e.http_status, e.body())
        await conn.execute(
            _STORE_REPLY,
            {"claimed": key, "status_code": reply.status_code, "response": reply.body},
        )
        return reply


async def _replay(conn: AsyncConnection, key: str, request_fingerprint: str) -> Reply:
    stored = (
        await conn.execute(select(idempotency_keys).where(idempotency_keys.c.key == key))
    ).one()
    if stored.fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            f"Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with; {key!r} was used with another request"
        )
    return Reply(stored.status_code, stored.response, replayed=True)
