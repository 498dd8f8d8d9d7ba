"""`/healthz` (readiness): 200 while the database answers, 503 otherwise, so an orchestrator
routes no payment to an instance that could not record it. `/livez` (liveness): 200 while the
server answers at all, whatever its database does: a restart would not bring a database back."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from bff.api.errors import DATABASE_RETRY_AFTER_SECONDS
from bff.api.models import HealthOut, LiveOut, UnhealthyOut
from bff.api.responses import RETRY_AFTER, answers
from paykit.health import database_check, run_checks
from paykit.metrics import READY

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz",
    response_model=HealthOut,
    responses=answers(
        (
            503,
            {
                "model": UnhealthyOut,
                "description": "`unhealthy`: a dependency is failing; route nothing here",
                "headers": {"Retry-After": RETRY_AFTER},
            },
        )
    ),
)
def healthz(request: Request) -> JSONResponse:
    ready, checks = run_checks({"database": database_check(request.app.state.engine)})
    READY.set(1.0 if ready else 0.0)
    if ready:
        return JSONResponse({"status": "ok", "checks": checks})
    return JSONResponse(
        {
            "status": "unavailable",
            "code": "unhealthy",
            "message": "A dependency of the BFF is failing; see checks",
            "checks": checks,
        },
        status_code=503,
        headers={"Retry-After": DATABASE_RETRY_AFTER_SECONDS},
    )


# async: answered on the event loop itself, so it says the server is serving even while every
# thread of the pool the sync routes run on is waiting for the database.
@router.get("/livez", response_model=LiveOut, responses=answers())
async def livez() -> JSONResponse:
    return JSONResponse({"status": "ok"})
