"""The provider operations under /v1. Each one waits the simulated latency first, then runs at
most once per Idempotency-Key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from psp_sim import ledger, operations
from psp_sim.api.deps import EngineDep, IdempotencyKey, simulate_latency
from psp_sim.api.models import (
    AuthorizationOut,
    AuthorizationRequest,
    CaptureOut,
    CaptureRequest,
    ErrorOut,
    OperationList,
    OperationOut,
    OperationQuery,
    VoidOut,
    VoidRequest,
)
from psp_sim.idempotency import Reply, fingerprint, run_once
from psp_sim.metrics import OPERATIONS, REPLAYS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from psp_sim.ledger import Kind

log = structlog.get_logger()

router = APIRouter(prefix="/v1", tags=["provider"], dependencies=[Depends(simulate_latency)])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 404, 409, 503)
}
REPLAYED = "Idempotent-Replayed"


@router.post(
    "/authorizations", status_code=201, responses={201: {"model": AuthorizationOut}, **ERRORS}
)
async def create_authorization(
    request: Request, body: AuthorizationRequest, key: IdempotencyKey, engine: EngineDep
) -> JSONResponse:
    async def perform(conn: AsyncConnection) -> Reply:
        authorization = await operations.authorize(
            conn,
            idempotency_key=key,
            amount_minor=body.amount_minor,
            currency=body.currency,
            payment_method=body.payment_method,
            reference=body.reference,
        )
        return Reply(201, AuthorizationOut.of(authorization).model_dump(mode="json"))

    return await _answer_once("authorization", request, body, key, engine, perform)


@router.post(
    "/authorizations/{authorization_id}/capture",
    status_code=201,
    responses={201: {"model": CaptureOut}, **ERRORS},
)
async def capture_authorization(
    request: Request,
    authorization_id: str,
    body: CaptureRequest,
    key: IdempotencyKey,
    engine: EngineDep,
) -> JSONResponse:
    async def perform(conn: AsyncConnection) -> Reply:
        capture = await operations.capture(
            conn,
            idempotency_key=key,
            authorization_id=authorization_id,
            amount_minor=body.amount_minor,
            reference=body.reference,
        )
        return Reply(201, CaptureOut.of(capture).model_dump(mode="json"))

    return await _answer_once("capture", request, body, key, engine, perform)


@router.post(
    "/authorizations/{authorization_id}/void",
    status_code=201,
    responses={201: {"model": VoidOut}, **ERRORS},
)
async def void_authorization(
    request: Request,
    authorization_id: str,
    body: VoidRequest,
    key: IdempotencyKey,
    engine: EngineDep,
) -> JSONResponse:
    async def perform(conn: AsyncConnection) -> Reply:
        void = await operations.void(
            conn, idempotency_key=key, authorization_id=authorization_id, reference=body.reference
        )
        return Reply(201, VoidOut.of(void).model_dump(mode="json"))

    return await _answer_once("void", request, body, key, engine, perform)


@router.get("/operations", responses=ERRORS)
async def list_operations(
    query: Annotated[OperationQuery, Query()], engine: EngineDep
) -> OperationList:
    async with engine.connect() as conn:
        found = await ledger.find(conn, query.filters())
    return OperationList(
        operations=[OperationOut.model_validate(op, from_attributes=True) for op in found]
    )


async def _answer_once(
    kind: Kind,
    request: Request,
    body: AuthorizationRequest | CaptureRequest | VoidRequest,
    key: str,
    engine: AsyncEngine,
    perform: Callable[[AsyncConnection], Awaitable[Reply]],
) -> JSONResponse:
    protected = fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    reply = await run_once(engine, key, protected, perform)
    outcome = reply.body.get("status") if reply.status_code < 400 else reply.body.get("code")
    if reply.replayed:
        REPLAYS.labels(kind).inc()
    else:
        OPERATIONS.labels(kind, str(outcome)).inc()
    log.info(
        "operation_replayed" if reply.replayed else "operation_answered",
        kind=kind,
        idempotency_key=key,
        reference=body.reference,
        status_code=reply.status_code,
        outcome=outcome,
        id=reply.body.get("id"),
    )
    headers = {REPLAYED: "true"} if reply.replayed else None
    return JSONResponse(reply.body, status_code=reply.status_code, headers=headers)
