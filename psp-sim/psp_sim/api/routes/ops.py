"""Health and metrics: what ops and the embedded stack poll."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from psp_sim.api.deps import EngineDep  # noqa: TC001 FastAPI resolves it at run time

router = APIRouter(tags=["ops"])

# A database that hangs must make the check fail, not make the prober wait for it.
HEALTH_TIMEOUT_SECONDS = 2.0


@router.get("/healthz")
async def healthz(engine: EngineDep) -> JSONResponse:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_SECONDS), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError, TimeoutError) as e:
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
