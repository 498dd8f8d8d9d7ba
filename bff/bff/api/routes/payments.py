"""`/v1/payments`: accept a payment (a record, its idempotency key and `PaymentInitiated` in one
statement: `bff.adapters.acceptance`) and show its status read model. Nothing here calls another
service."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import structlog
from fastapi import APIRouter, Request, Response

from bff.adapters.acceptance import Accepted
from bff.api.accept_requests import AcceptRequest, read_accept_request
from bff.api.answers import accepted, canonical_id, payment_accepted

# FastAPI reads the annotations at run time, so these aliases are real imports.
from bff.api.deps import (  # noqa: TC001
    AcceptanceDep,
    ClientDep,
    CorrelationId,
    IdempotencyKey,
    UowDep,
    client_of,
)
from bff.api.models import PaymentAccepted, PaymentRequest, PaymentStatusOut
from bff.api.responses import (
    ACCEPTED,
    NO_STORE,
    UNAUTHORIZED,
    UNAVAILABLE,
    answers,
    invalid,
    ok,
    refused,
)
from bff.domain.errors import PaymentNotFound
from bff.domain.idempotency import fingerprint, replay
from bff.domain.payment import accept_payment
from paykit.messages import Trace

if TYPE_CHECKING:
    from bff.adapters.acceptance import Acceptance
    from bff.api.rendering import OrjsonResponse

log = structlog.get_logger()

router = APIRouter(prefix="/v1/payments", tags=["payments"])


@router.post(
    "",
    status_code=202,
    response_model=PaymentAccepted,
    responses=answers(ACCEPTED, UNAUTHORIZED, invalid("idempotency_key_reused"), UNAVAILABLE),
)
async def create_payment(
    body: PaymentRequest,
    key: IdempotencyKey,
    client: ClientDep,
    acceptance: AcceptanceDep,
    correlation_id: CorrelationId = None,
) -> OrjsonResponse:
    """Accepts a payment and answers at once; `status_url` shows how it goes."""
    return await _accept(acceptance, client, AcceptRequest(body, key, correlation_id or None))


async def create_payment_directly(request: Request) -> OrjsonResponse | None:
    """`create_payment` as served directly (`paykit.direct_routes`); None leaves a request it
    would refuse to FastAPI. The client is known first: only a known client learns what is wrong
    with a body."""
    client = client_of(request)
    accept_request = await read_accept_request(request, PaymentRequest)
    if accept_request is None:
        return None
    return await _accept(request.app.state.acceptance, client, accept_request)


async def _accept(
    acceptance: Acceptance, client: str, accept_request: AcceptRequest[PaymentRequest]
) -> OrjsonResponse:
    body, key = accept_request.body, accept_request.idempotency_key
    request_fingerprint = fingerprint(body.model_dump(mode="json"))
    payment_id = str(uuid.uuid4())
    answer = payment_accepted(payment_id, f"{router.prefix}/{payment_id}")
    payment = accept_payment(
        payment_id=payment_id,
        client_id=client,
        customer_id=body.customer_id,
        currency=body.currency,
        payment_method=body.payment_method,
        amounts=[(line.seller_id, line.amount_minor) for line in body.lines],
        return_url=str(body.return_url) if body.return_url else None,
    )
    trace = Trace.start(accept_request.correlation_id or payment_id)
    # The key is claimed by the statement that records the payment: a concurrent twin waits on
    # it, and a failure leaves neither key nor payment behind.
    first_use = await acceptance.record(
        Accepted(payment, client, key, request_fingerprint, answer, trace)
    )
    if first_use is not None:
        first_answer = replay(key, first_use.fingerprint, request_fingerprint, first_use.answer)
        log.info("payment_replayed", payment_id=first_answer.body.get("payment_id"))
        return accepted(first_answer, replayed=True)
    log.info(
        "payment_accepted",
        payment_id=payment_id,
        correlation_id=trace.correlation_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        lines=len(payment.initiated.lines),
    )
    return accepted(answer, replayed=False)


@router.get(
    "/{payment_id}",
    response_model=PaymentStatusOut,
    responses=answers(
        ok("the payment's status read model", {"Cache-Control": NO_STORE}),
        UNAUTHORIZED,
        refused(404, "`payment_not_found`: no such payment of the caller's"),
        UNAVAILABLE,
    ),
)
def get_payment(
    payment_id: str, client: ClientDep, uow: UowDep, response: Response
) -> PaymentStatusOut:
    """The status read model of one of the caller's payments."""
    # It can hold a live single-use SSO token: no cache may keep a copy.
    response.headers["Cache-Control"] = "no-store"
    with uow:
        payment = uow.payments.get(canonical_id(payment_id))
        # Another client's payment is answered exactly like a missing one: ids are not probed.
        if payment is None or payment.client_id != client:
            raise PaymentNotFound(f"No payment {payment_id!r}")
        return PaymentStatusOut.of(payment)
