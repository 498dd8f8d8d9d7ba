"""The ASGI application of the simulated provider: FastAPI, with its operation routes served in
front of it (`api.operation_routes`); `create_app` is its one wiring point."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from psp_sim.api.errors import install_error_handlers
from psp_sim.api.operation_routes import OperationRoutes
from psp_sim.api.routes import admin, ops, provider
from psp_sim.behaviour import Behaviour
from psp_sim.database import connection_pool

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from psp_sim.settings import Settings


def create_app(settings: Settings) -> OperationRoutes:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Opened here, not at import: nothing connects until the server starts. It fills in the
        # background, so the server starts (and answers /livez) with its database down.
        pool = connection_pool(settings.database_url)
        await pool.open()
        app.state.pool = pool
        try:
            yield
        finally:
            await pool.close()

    app = FastAPI(
        title="psp-sim",
        summary="A simulated payment provider with Stripe-like rules",
        lifespan=lifespan,
        # Nothing here exports OpenTelemetry; off, it costs no check per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.behaviour = Behaviour.from_settings(settings)
    app.include_router(provider.router)
    app.include_router(ops.router)
    app.include_router(admin.router)
    install_error_handlers(app)
    return OperationRoutes(app)
