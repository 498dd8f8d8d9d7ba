"""Health and metrics: what ops and the embedded stack poll."""

from __future__ import annotations

import asyncio

import psycopg
from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import PoolTimeout

from psp_sim.api.deps import PoolDep  # noqa: TC001 FastAPI resolves it at run time

router = APIRouter(tags=["ops"])

# A database that hangs must make the check fail, not make the prober wait for it.
HEALTH_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def healthz(pool: PoolDep) -> JSONResponse:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), pool.connection() as conn:
            await conn.execute("SELECT 1")
    except (psycopg.Error, PoolTimeout, OSError, TimeoutError) as e:
        return JSONResponse(
            {
                "status": "unavailable",
                "code": "database_unavailable",
                "message": f"{type(e).__name__}: {e}"[:300],
            },
            status_code=503,
        )
    return JSONResponse({"status": "ok"})


@router.get("/livez")
async def livez() -> JSONResponse:
    """Liveness: the server answers, whatever its database does (that is `/healthz`)."""
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
