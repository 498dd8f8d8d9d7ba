"""The FastAPI application; `create_app(settings)` is its one wiring point, and
`app_from_environment()` builds it in a server process. Nothing connects until the server
starts it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from anyio import to_thread
from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from bff.adapters.acceptance import Acceptance
from bff.adapters.connections import accept_connections, bound_connect_time
from bff.adapters.orm import start_mappers
from bff.api.errors import install_error_handlers
from bff.api.metrics import RequestMetrics, expose_metrics
from bff.api.responses import drop_framework_validation_answers
from bff.api.routes import checkout, checkout_sessions, health, payments, refunds
from bff.settings import Settings
from paykit.db import make_engine
from paykit.direct_routes import DirectRoutes
from paykit.logging import configure_logging
from paykit.server_workers import end_with_supervisor
from payment_events.codec import Codec
from payment_events.registry import registry_for

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


# Connections per server process: for the cold paths, which run on threads and hold a connection
# each meanwhile, and for the accept path, on the event loop, whose statements take a
# millisecond or so each.
POOL_SIZE = 10
ACCEPT_POOL_SIZE = 10


def app_from_environment() -> FastAPI:
    """The app of one server process, for uvicorn's `factory=True`: each worker is a fresh
    interpreter, so it reads its settings and sets up its logging itself."""
    settings = Settings()
    configure_logging(
        "bff", settings.log_level, settings.log_format, access_log=settings.access_log
    )
    end_with_supervisor()
    return create_app(settings)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        start_mappers()
        # The cold paths' routes are sync: each runs on a thread of anyio's pool and holds a
        # connection meanwhile. As many threads as connections, so a request waits for a thread,
        # not for a connection, and under load no connection beyond the pool is opened and
        # closed again for every request.
        to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
        engine = make_engine(settings.database_url, pool_size=POOL_SIZE)
        bound_connect_time(engine)
        app.state.engine = engine
        app.state.session_factory = sessionmaker(engine, expire_on_commit=False)
        codec = Codec(registry_for(settings.schema_registry_url))
        app.state.codec = codec
        accept_pool = accept_connections(engine, ACCEPT_POOL_SIZE)
        # Not waiting for the connections: the server starts (and answers 503) without its
        # database, as it does on the cold paths.
        await accept_pool.open(wait=False)
        app.state.acceptance = Acceptance(accept_pool, codec)
        try:
            yield
        finally:
            await accept_pool.close()
            engine.dispose()

    app = FastAPI(
        title="payments BFF",
        summary="Accepts checkout payments at once and shows how they go",
        lifespan=lifespan,
        # Nothing here exports OpenTelemetry; off, it costs no check per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.include_router(payments.router)
    app.include_router(refunds.router)
    app.include_router(checkout_sessions.router)
    app.include_router(checkout.router)
    app.include_router(health.router)
    install_error_handlers(app)
    drop_framework_validation_answers(app)
    # The accept routes past FastAPI's machinery; inside the request metrics, which count them.
    app.add_middleware(
        DirectRoutes,
        api=app,
        routes=[*payments.router.routes, *checkout.router.routes],
        handlers={
            payments.create_payment: payments.create_payment_directly,
            checkout.pay_checkout: checkout.pay_checkout_directly,
        },
    )
    app.add_middleware(RequestMetrics)
    expose_metrics(app, settings.metrics_dir)
    return app
