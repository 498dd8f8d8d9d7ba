"""The provider operations under /v1. Each one consults the behaviour first (latency, injected
failures), then runs at most once per Idempotency-Key: one call of its function in the database
(see `psp_sim.operations`), whose answer, JSON built by the database, is sent as it comes. The
ledger read consults nothing.

The operation routes take the bare request and decode its body with msgspec: FastAPI's
dependencies and a pydantic model cost more CPU per call than the database does. Their bodies are
documented from the same structs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import msgspec
import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from psp_sim import ledger, operations
from psp_sim.api.deps import PoolDep  # noqa: TC001 FastAPI resolves it at run time
from psp_sim.api.errors import error, rejection
from psp_sim.api.models import (
    AuthorizationOut,
    AuthorizationRequest,
    CaptureOut,
    CaptureRequest,
    ErrorOut,
    OperationList,
    OperationQuery,
    OperationRequest,
    RefundOut,
    RefundRequest,
    VoidOut,
    VoidRequest,
    request_body_schema,
)
from psp_sim.errors import IdempotencyKeyMissing, IdempotencyKeyReused, InvalidRequest
from psp_sim.idempotency import fingerprint
from psp_sim.metrics import FAILURES_INJECTED, OPERATIONS, REPLAYS

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from psycopg import AsyncConnection
    from psycopg.rows import TupleRow
    from psycopg_pool import AsyncConnectionPool

    from psp_sim.behaviour import Behaviour
    from psp_sim.operations import Answer, Kind

log = structlog.get_logger()

router = APIRouter(prefix="/v1", tags=["provider"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 404, 409, 500, 503)
}
REPLAYED = "Idempotent-Replayed"
JSON = "application/json"

Body = TypeVar("Body", bound=OperationRequest)


@router.post(
    "/authorizations",
    status_code=201,
    responses={201: {"model": AuthorizationOut}, **ERRORS},
    openapi_extra=request_body_schema(AuthorizationRequest),
)
async def create_authorization(request: Request) -> Response:
    return await _answer_once("authorization", request, AuthorizationRequest, operations.authorize)


@router.post(
    "/authorizations/{authorization_id}/capture",
    status_code=201,
    responses={201: {"model": CaptureOut}, **ERRORS},
    openapi_extra=request_body_schema(CaptureRequest),
)
async def capture_authorization(request: Request, authorization_id: str) -> Response:
    async def perform(
        conn: AsyncConnection[TupleRow], key: str, protected: str, body: CaptureRequest
    ) -> Answer:
        return await operations.capture(conn, key, protected, authorization_id, body)

    return await _answer_once("capture", request, CaptureRequest, perform)


@router.post(
    "/authorizations/{authorization_id}/void",
    status_code=201,
    responses={201: {"model": VoidOut}, **ERRORS},
    openapi_extra=request_body_schema(VoidRequest),
)
async def void_authorization(request: Request, authorization_id: str) -> Response:
    async def perform(
        conn: AsyncConnection[TupleRow], key: str, protected: str, body: VoidRequest
    ) -> Answer:
        return await operations.void(conn, key, protected, authorization_id, body)

    return await _answer_once("void", request, VoidRequest, perform)


@router.post(
    "/captures/{capture_id}/refunds",
    status_code=201,
    responses={201: {"model": RefundOut}, 422: {"model": ErrorOut}, **ERRORS},
    openapi_extra=request_body_schema(RefundRequest),
)
async def refund_capture(request: Request, capture_id: str) -> Response:
    async def perform(
        conn: AsyncConnection[TupleRow], key: str, protected: str, body: RefundRequest
    ) -> Answer:
        return await operations.refund(conn, key, protected, capture_id, body)

    return await _answer_once("refund", request, RefundRequest, perform)


@router.get("/operations", responses={200: {"model": OperationList}, **ERRORS})
async def list_operations(query: Annotated[OperationQuery, Query()], pool: PoolDep) -> Response:
    async with pool.connection() as conn:
        found = await ledger.find(conn, query.filters())
    return Response(found, media_type=JSON)


# Served by paykit.direct_routes, past FastAPI's per-request machinery.
OPERATION_ENDPOINTS: set[Callable[..., Awaitable[Response]]] = {
    create_authorization,
    capture_authorization,
    void_authorization,
    refund_capture,
}


async def _answer_once(
    kind: Kind,
    request: Request,
    body_type: type[Body],
    perform: Callable[[AsyncConnection[TupleRow], str, str, Body], Awaitable[Answer]],
) -> Response:
    key = request.headers.get("idempotency-key")
    if not key:
        return rejection(IdempotencyKeyMissing("This request needs an Idempotency-Key header"))
    try:
        body = msgspec.json.decode(await request.body(), type=body_type)
    except msgspec.DecodeError as e:
        return rejection(InvalidRequest(str(e)))

    behaviour: Behaviour = request.app.state.behaviour
    failure = await behaviour.before_operation()
    if failure is not None:
        FAILURES_INJECTED.labels(kind, failure.kind).inc()
        log.warning("failure_injected", kind=kind, idempotency_key=key, failure=failure.kind)
        if failure.kind == "error_5xx":
            return error(503, "service_unavailable", "Simulated outage: nothing was performed")

    path: str = request.scope["path"]
    protected = fingerprint(request.method, path, msgspec.structs.asdict(body))
    pool: AsyncConnectionPool = request.app.state.pool
    async with pool.connection() as conn:
        answer = await perform(conn, key, protected, body)
    if answer.result == "reused":
        return rejection(
            IdempotencyKeyReused(
                f"Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with; {key!r} was used with another request"
            )
        )
    replayed = answer.result == "replayed"
    if replayed:
        REPLAYS.labels(kind).inc()
    else:
        OPERATIONS.labels(kind, str(answer.outcome)).inc()
    log.debug(
        "operation_replayed" if replayed else "operation_answered",
        kind=kind,
        idempotency_key=key,
        reference=body.reference,
        status_code=answer.status_code,
        outcome=answer.outcome,
        id=answer.operation_id,
    )

    if failure is not None and failure.kind == "error_5xx_after_commit":
        return error(500, "internal_error", "Simulated failure after the operation was performed")
    if failure is not None and failure.kind == "timeout":
        await _withhold_answer(request, failure.hold_seconds)
    headers = {REPLAYED: "true"} if replayed else None
    return Response(
        answer.response, status_code=answer.status_code, headers=headers, media_type=JSON
    )


async def _withhold_answer(request: Request, hold_seconds: float) -> None:
    """Waits until the caller hangs up (its timeout) or `hold_seconds` pass, whichever is first:
    a held answer must not keep the server from shutting down long after its caller left."""

    async def caller_gone() -> None:
        # The body has been read, so the only message left to receive is the disconnect.
        while (await request.receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(caller_gone(), hold_seconds)
