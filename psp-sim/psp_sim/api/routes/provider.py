"""The provider operations under /v1. Each one consults the behaviour first (latency, injected
failures), then runs at most once per Idempotency-Key. The ledger read consults nothing."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from psp_sim import ledger, operations
from psp_sim.api.deps import BehaviourDep, EngineDep, IdempotencyKey  # noqa: TC001 (FastAPI)
from psp_sim.api.errors import error
from psp_sim.api.models import (
    AuthorizationOut,
    AuthorizationRequest,
    CaptureOut,
    CaptureRequest,
    ErrorOut,
    OperationList,
    OperationOut,
    OperationQuery,
    OperationRequest,
    RefundOut,
    RefundRequest,
    VoidOut,
    VoidRequest,
)
from psp_sim.idempotency import Reply, fingerprint, run_once
from psp_sim.metrics import FAILURES_INJECTED, OPERATIONS, REPLAYS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

    from psp_sim.behaviour import Behaviour
    from psp_sim.ledger import Kind

log = structlog.get_logger()

router = APIRouter(prefix="/v1", tags=["provider"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 404, 409, 500, 503)
}
REPLAYED = "Idempotent-Replayed"


@router.post(
    "/authorizations", status_code=201, responses={201: {"model": AuthorizationOut}, **ERRORS}
)
async def create_authorization(
    request: Request,
    body: AuthorizationRequest,
    key: IdempotencyKey,
    engine: EngineDep,
    behaviour: BehaviourDep,
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

    return await _answer_once("authorization", request, body, key, engine, behaviour, perform)


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
    behaviour: BehaviourDep,
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

    return await _answer_once("capture", request, body, key, engine, behaviour, perform)


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
    behaviour: BehaviourDep,
) -> JSONResponse:
    async def perform(conn: AsyncConnection) -> Reply:
        void = await operations.void(
            conn, idempotency_key=key, authorization_id=authorization_id, reference=body.reference
        )
        return Reply(201, VoidOut.of(void).model_dump(mode="json"))

    return await _answer_once("void", request, body, key, engine, behaviour, perform)


@router.post(
    "/captures/{capture_id}/refunds",
    status_code=201,
    responses={201: {"model": RefundOut}, 422: {"model": ErrorOut}, **ERRORS},
)
async def refund_capture(
    request: Request,
    capture_id: str,
    body: RefundRequest,
    key: IdempotencyKey,
    engine: EngineDep,
    behaviour: BehaviourDep,
) -> JSONResponse:
    async def perform(conn: AsyncConnection) -> Reply:
        refund = await operations.refund(
            conn,
            idempotency_key=key,
            capture_id=capture_id,
            amount_minor=body.amount_minor,
            reference=body.reference,
        )
        return Reply(201, RefundOut.of(refund).model_dump(mode="json"))

    return await _answer_once("refund", request, body, key, engine, behaviour, perform)


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
    body: OperationRequest,
    key: str,
    engine: AsyncEngine,
    behaviour: Behaviour,
    perform: Callable[[AsyncConnection], Awaitable[Reply]],
) -> JSONResponse:
    failure = await behaviour.before_operation()
    if failure is not None:
        FAILURES_INJECTED.labels(kind, failure.kind).inc()
        log.warning("failure_injected", kind=kind, idempotency_key=key, failure=failure.kind)
        if failure.kind == "error_5xx":
            return error(503, "service_unavailable", "Simulated outage: nothing was performed")

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

    if failure is not None and failure.kind == "error_5xx_after_commit":
        return error(500, "internal_error", "Simulated failure after the operation was performed")
    if failure is not None and failure.kind == "timeout":
        await _withhold_answer(request, failure.hold_seconds)
    headers = {REPLAYED: "true"} if reply.replayed else None
    return JSONResponse(reply.body, status_code=reply.status_code, headers=headers)


async def _withhold_answer(request: Request, hold_seconds: float) -> None:
    """Waits until the caller hangs up (its timeout) or `hold_seconds` pass, whichever is first:
    a held answer must not keep the server from shutting down long after its caller left."""

    async def caller_gone() -> None:
        # The body has been read, so the only message left to receive is the disconnect.
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(caller_gone(), hold_seconds)
