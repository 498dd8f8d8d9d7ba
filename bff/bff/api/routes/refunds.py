"""`/v1/payments/{payment_id}/refunds`: ask captured money back. The refund, its idempotency key
and `RefundRequested` are one transaction, taken under the payment's row lock; capture-consumer
pays it back and the payment's status read model shows how it went."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import structlog
from fastapi import APIRouter, Body

from bff.api.answers import accepted, canonical_id

# FastAPI reads the annotations at run time, so these aliases are real imports.
from bff.api.deps import ClientDep, CorrelationId, IdempotencyKey, UowDep  # noqa: TC001
from bff.api.models import RefundAccepted, RefundLineOut, RefundRequest
from bff.api.responses import ACCEPTED, UNAUTHORIZED, UNAVAILABLE, answers, invalid, refused
from bff.domain.errors import PaymentNotFound
from bff.domain.idempotency import Answer, fingerprint, replay
from paykit.messages import Trace

if TYPE_CHECKING:
    from fastapi.responses import JSONResponse

log = structlog.get_logger()

router = APIRouter(prefix="/v1/payments", tags=["refunds"])

RESPONSES = answers(
    ACCEPTED,
    UNAUTHORIZED,
    refused(404, "`payment_not_found`: no such payment of the caller's"),
    refused(409, "`payment_not_refundable`: nothing captured to refund, or all refunded"),
    invalid("refund_exceeds_captured", "unknown_line", "invalid_refund", "idempotency_key_reused"),
    UNAVAILABLE,
)
# Stored under a key while its request runs; the answer replaces it before the commit, so no
# other transaction ever reads it.
CLAIMED = Answer(202, {})


@router.post(
    "/{payment_id}/refunds",
    status_code=202,
    response_model=RefundAccepted,
    responses=RESPONSES,
)
def request_refund(
    payment_id: str,
    key: IdempotencyKey,
    client: ClientDep,
    uow: UowDep,
    body: Annotated[RefundRequest | None, Body()] = None,
    correlation_id: CorrelationId = None,
) -> JSONResponse:
    """Asks back the chosen `lines` of a captured payment, or, without `lines`, all of it that is
    not refunded yet; answers at once, and the payment's `status_url` shows the refund."""
    wanted = body or RefundRequest()
    canonical = canonical_id(payment_id)
    request_fingerprint = fingerprint({"refund_of": canonical, **wanted.model_dump(mode="json")})
    with uow:
        # Claimed first, as for a payment: a twin with the same key waits on it. Then the
        # payment's row lock makes concurrent refunds of one payment take turns, so each one
        # sees what the others asked back before it is checked.
        if not uow.idempotency_keys.claim(client, key, request_fingerprint, canonical, CLAIMED):
            stored_fingerprint, first = uow.idempotency_keys.first_answer(client, key)
            first_answer = replay(key, stored_fingerprint, request_fingerprint, first)
            log.info("refund_replayed", payment_id=canonical)
            return accepted(first_answer, replayed=True)
        payment = uow.payments.get_for_update(canonical)
        # Another client's payment is answered exactly like a missing one: ids are not probed.
        if payment is None or payment.client_id != client:
            raise PaymentNotFound(f"No payment {payment_id!r}")
        refund = payment.request_refund(
            refund_id=str(uuid.uuid4()),
            lines=None
            if wanted.lines is None
            else [(x.line_no, x.amount_minor) for x in wanted.lines],
            reason=wanted.reason,
        )
        answer = Answer(
            202,
            RefundAccepted(
                refund_id=refund.refund_id,
                payment_id=payment.payment_id,
                status=refund.status,
                amount_minor=refund.amount_minor,
                lines=[
                    RefundLineOut(line_no=x.line_no, amount_minor=x.amount_minor)
                    for x in refund.lines
                ],
                status_url=f"{router.prefix}/{payment.payment_id}",
            ).model_dump(mode="json"),
        )
        uow.idempotency_keys.answer(client, key, answer)
        uow.trace = Trace.start(correlation_id or payment.payment_id)
        uow.record(*payment.events)
        uow.commit()
    log.info(
        "refund_requested",
        payment_id=payment.payment_id,
        refund_id=refund.refund_id,
        correlation_id=correlation_id or payment.payment_id,
        amount_minor=refund.amount_minor,
        lines=len(refund.lines),
    )
    return accepted(answer, replayed=False)
