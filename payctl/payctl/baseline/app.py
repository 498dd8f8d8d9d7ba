"""The baseline's HTTP API, `POST /v1/checkout` and `/healthz`; `create_app` is its one wiring
point, `app_from_environment` the factory each uvicorn worker calls."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
import httpx
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from bff.api.errors import field_error
from bff.api.models import ErrorOut, PaymentRequest
from bff.domain.errors import IdempotencyKeyReused
from orders.adapters.sso import JwtSsoIssuer, signing_key
from payctl.baseline.checkout import check_out
from payctl.baseline.errors import CheckoutInProgress
from payctl.baseline.settings import Settings
from payctl.baseline.store import CheckoutStore
from paykit.db import make_engine
from paykit.errors import PaymentsError
from paykit.health import database_check, run_checks
from paykit.logging import configure_logging
from paykit.provider import ProviderClient

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

# Per worker. A checkout holds its thread for all its provider calls, so anyio's default of 40
# threads would cap concurrent checkouts far below what the bench drives; the provider client's
# connections likewise (httpx keeps at most 100).
THREADS = 256
# Like the BFF's pool. A checkout holds a connection only for each short transaction, never
# across a provider call, so this serves many more concurrent checkouts than it has connections.
POOL_SIZE = 20

STATUS_OF: dict[type[PaymentsError], int] = {
    CheckoutInProgress: 409,
    IdempotencyKeyReused: 422,
}


async def arrival() -> float:
    # async: FastAPI awaits it on the event loop as soon as the body is read, before the route
    # waits for a thread, so that wait counts in the times the answer reports.
    return time.perf_counter()


ArrivedAt = Annotated[float, Depends(arrival)]
IdempotencyKey = Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=255)]

router = APIRouter()


@router.post(
    "/v1/checkout",
    responses={status: {"model": ErrorOut} for status in (402, 409, 422, 503)},
)
def checkout(
    body: PaymentRequest, key: IdempotencyKey, arrived: ArrivedAt, request: Request
) -> JSONResponse:
    """Authorizes, creates and confirms the order and captures every line, then answers 200;
    402 when the card is declined, 503 when the provider is unavailable."""
    state = request.app.state
    reply = check_out(body, key, arrived, state.store, state.provider, state.sso)
    headers = {"Idempotent-Replayed": "true"} if reply.replayed else None
    return JSONResponse(reply.answer.body, status_code=reply.answer.status_code, headers=headers)


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    ready, checks = run_checks({"database": database_check(request.app.state.engine)})
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


async def named_error(_request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, PaymentsError)
    status = next((s for t, s in STATUS_OF.items() if isinstance(e, t)), 500)
    return JSONResponse({"code": e.code, "message": str(e)}, status_code=status)


async def invalid_request(_request: Request, e: Exception) -> JSONResponse:
    assert isinstance(e, RequestValidationError)
    errors: list[dict[str, Any]] = [field_error(err) for err in e.errors()]
    return JSONResponse(
        {
            "code": "validation_failed",
            "message": f"The request has {len(errors)} invalid field(s)",
            "errors": errors,
        },
        status_code=422,
    )


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = THREADS
        engine = make_engine(settings.database_url, pool_size=POOL_SIZE)
        limits = httpx.Limits(max_connections=THREADS, max_keepalive_connections=THREADS)
        provider = ProviderClient(
            settings.psp_url,
            settings.psp_timeout_seconds,
            transport=httpx.HTTPTransport(limits=limits),
        )
        app.state.engine = engine
        app.state.store = CheckoutStore(engine)
        app.state.provider = provider
        app.state.sso = JwtSsoIssuer(
            signing_key(settings.sso_signing_key), settings.sso_audience, settings.saas_app_url
        )
        try:
            yield
        finally:
            provider.close()
            engine.dispose()

    app = FastAPI(
        title="payments baseline",
        summary="The synchronous checkout the event-driven design replaces; a bench target",
        lifespan=lifespan,
    )
    app.include_router(router)
    app.add_exception_handler(PaymentsError, named_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    return app


def app_from_environment() -> FastAPI:
    """What each uvicorn worker process runs: its settings from the environment."""
    settings = Settings()
    configure_logging("baseline", settings.log_level, settings.log_format)
    return create_app(settings)
