"""What the admin and ops routes take from the app: its connection pool and its behaviour."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from psycopg_pool import AsyncConnectionPool

from psp_sim.behaviour import Behaviour  # noqa: TC001 FastAPI resolves it at run time

# Async though they never wait: FastAPI runs a sync dependency on a thread of its pool, a
# hand-off per dependency per request that costs more than the work it hands off.


async def get_pool(request: Request) -> AsyncConnectionPool:
    pool: AsyncConnectionPool = request.app.state.pool
    return pool


async def get_behaviour(request: Request) -> Behaviour:
    behaviour: Behaviour = request.app.state.behaviour
    return behaviour


BehaviourDep = Annotated[Behaviour, Depends(get_behaviour)]
PoolDep = Annotated[AsyncConnectionPool, Depends(get_pool)]
