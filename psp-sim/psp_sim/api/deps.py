"""What routes take from the app: its engine, its behaviour, and the request's Idempotency-Key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from psp_sim.behaviour import Behaviour  # noqa: TC001 FastAPI resolves it at run time
from psp_sim.errors import IdempotencyKeyMissing

# Async though they never wait: FastAPI runs a sync dependency on a thread of its pool, a
# hand-off per dependency per request that costs more than the work it hands off.


async def get_engine(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


async def get_behaviour(request: Request) -> Behaviour:
    behaviour: Behaviour = request.app.state.behaviour
    return behaviour


async def require_idempotency_key(
    key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> str:
    if not key:
        raise IdempotencyKeyMissing("This request needs an Idempotency-Key header")
    return key


BehaviourDep = Annotated[Behaviour, Depends(get_behaviour)]
EngineDep = Annotated[AsyncEngine, Depends(get_engine)]
IdempotencyKey = Annotated[str, Depends(require_idempotency_key)]
