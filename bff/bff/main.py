"""The FastAPI application; `create_app(settings)` is its one wiring point. Nothing connects
until the server starts it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI
from prometheus_fastapi_instrumentator import Instrumentator
from sqlalchemy.orm import sessionmaker

from bff.adapters.connections import bound_connect_time
from bff.adapters.orm import start_mappers
from bff.api.errors import install_error_handlers
from bff.api.routes import health, payments, refunds
from paykit.db import make_engine
from payment_events.codec import Codec
from payment_events.registry import registry_for

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bff.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start_mappers()
        # Sized like the threadpool that runs the (sync) routes, so requests rarely queue.
        engine = make_engine(settings.database_url, pool_size=20)
        bound_connect_time(engine)
        app.state.engine = engine
        app.state.session_factory = sessionmaker(engine, expire_on_commit=False)
        app.state.codec = Codec(registry_for(settings.schema_registry_url))
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="payments BFF",
        summary="Accepts checkout payments at once and shows how they go",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.include_router(payments.router)
    app.include_router(refunds.router)
    app.include_router(health.router)
    install_error_handlers(app)
    Instrumentator(excluded_handlers=["/metrics", "/healthz"]).instrument(app).expose(
        app, include_in_schema=False
    )
    return app
