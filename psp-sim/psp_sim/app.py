"""The ASGI application of the simulated provider: FastAPI, with its operation routes served in
front of it (`paykit.direct_routes`); `create_app` is its one wiring point."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI

from paykit.direct_routes import DirectRoutes
from psp_sim.api.errors import install_error_handlers
from psp_sim.api.routes import admin, ops, provider
from psp_sim.behaviour import Behaviour
from psp_sim.database import connection_pool

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from psp_sim.settings import Settings


def create_app(settings: Settings) -> DirectRoutes:
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
    # Per call, FastAPI's middleware, routing and dependency machinery would cost more CPU than
    # the operation and its database round trip together; the operation endpoints take the bare
    # request and check their bodies themselves.
    operations = {endpoint: endpoint for endpoint in provider.OPERATION_ENDPOINTS}
    return DirectRoutes(app, api=app, routes=provider.router.routes, handlers=operations)
