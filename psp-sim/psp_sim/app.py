"""The FastAPI application of the simulated provider; `create_app` is its one wiring point."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from paykit.db import sqlalchemy_url
from psp_sim.api.errors import install_error_handlers
from psp_sim.api.routes import admin, ops, provider
from psp_sim.behaviour import Behaviour

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from psp_sim.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The engine is made here, not at import: nothing connects until the server starts.
        # An operation holds a connection only for its transaction (after the simulated
        # latency): a few milliseconds, so 20 serve thousands of operations a second, and the
        # overflow a backlog after a stall.
        engine = create_async_engine(
            sqlalchemy_url(settings.database_url),
            pool_size=20,
            max_overflow=20,
            pool_pre_ping=True,
        )
        app.state.engine = engine
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="psp-sim",
        summary="A simulated payment provider with Stripe-like rules",
        lifespan=lifespan,
    )
    app.state.behaviour = Behaviour.from_settings(settings)
    app.include_router(provider.router)
    app.include_router(ops.router)
    app.include_router(admin.router)
    install_error_handlers(app)
    return app
