"""The demo SaaS app; `create_app(settings)` is its one wiring point. `POST /sso/callback` takes
the SSO token as a form field, verifies it, accepts it once and answers `303` to `/`, which shows
who is signed in. The token is never taken from a URL: a URL is logged, kept in history and
sent on in `Referer`."""

from __future__ import annotations

import secrets
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

import structlog
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from paykit.db import make_engine
from saas_demo import pages
from saas_demo.sign_ins import SignIns
from saas_demo.tokens import Claims, Refused, TokenVerifier

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from saas_demo.settings import Settings

log = structlog.get_logger()

SESSION_COOKIE = "saas_session"
# A form with one token: a body much larger than that is not a sign-in.
MAX_FORM_BYTES = 16_384
SIGN_INS = Counter(
    "saas_sign_ins", "SSO sign-ins by outcome (signed_in or a refusal code)", ["outcome"]
)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Made here, not at import: nothing connects until the server starts.
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.sign_ins = SignIns(engine)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="saas-demo",
        summary="The SaaS app the checkout signs the shopper in to",
        lifespan=lifespan,
    )
    verifier = TokenVerifier(settings.jwks_url, settings.issuer, settings.audience)

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        session = request.cookies.get(SESSION_COOKIE)
        customer = request.app.state.sign_ins.customer_of(session) if session else None
        return pages.signed_in(customer) if customer else pages.signed_out()

    @app.post("/sso/callback", include_in_schema=False)
    async def sso_callback(request: Request) -> Response:
        body = await request.body()
        token = _form_token(request, body)
        try:
            if token is None:
                raise Refused("sso_token_missing", "No sign-in token came with this request.", 400)
            claims = verifier.verify(token)
            session = secrets.token_urlsafe(32)
            if not await _recorded(request, claims, session):
                raise Refused(
                    "sso_token_used",
                    "This sign-in link has already been used. Sign in from the app instead.",
                )
        except Refused as refusal:
            SIGN_INS.labels(refusal.code).inc()
            log.info("sign_in_refused", code=refusal.code)
            return pages.refused(refusal.code, refusal.message, refusal.status)
        SIGN_INS.labels("signed_in").inc()
        log.info("signed_in", customer_id=claims.customer_id, order_id=claims.order_id)
        # See Other: the browser GETs `/`, so a reload never posts the token again.
        answer = RedirectResponse("/", status_code=303, headers={"Cache-Control": "no-store"})
        answer.set_cookie(
            SESSION_COOKIE,
            session,
            httponly=True,
            samesite="lax",
            secure=settings.secure_cookies,
            path="/",
        )
        return answer

    @app.get("/sso/callback", include_in_schema=False)
    def sso_callback_by_url() -> Response:
        # Whatever the query holds is not read: a token in a URL has already leaked.
        return pages.refused(
            "sso_token_in_url",
            "Sign-in tokens are accepted in a POSTed form only, never in a URL.",
            405,
        )

    @app.get("/healthz", include_in_schema=False)
    def healthz(request: Request) -> JSONResponse:
        try:
            with request.app.state.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as e:
            return JSONResponse(
                {"status": "unavailable", "code": "database_unavailable", "message": str(e)[:300]},
                status_code=503,
            )
        return JSONResponse({"status": "ok"})

    @app.get("/livez", include_in_schema=False)
    async def livez() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app


async def _recorded(request: Request, claims: Claims, session: str) -> bool:
    try:
        recorded: bool = await run_in_threadpool(request.app.state.sign_ins.record, claims, session)
    except SQLAlchemyError as e:
        log.warning("sign_in_database_unavailable", error=repr(e)[:300])
        # Nothing recorded: the token is still unused, and signs in on a retry within its life.
        raise Refused(
            "database_unavailable",
            "Signing in is not possible right now. Please try again in a moment.",
            503,
        ) from e
    return recorded


def _form_token(request: Request, body: bytes) -> str | None:
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    if len(body) > MAX_FORM_BYTES:
        return None
    tokens = parse_qs(body.decode("ascii", errors="replace")).get("token", [])
    return tokens[0] if len(tokens) == 1 and tokens[0] else None
