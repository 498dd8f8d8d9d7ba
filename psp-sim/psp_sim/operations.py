"""What each provider operation does: consult the rules, then write its row to the ledger. Runs
inside the idempotency transaction, so an operation and its stored response commit together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psp_sim import ledger, rules

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from psp_sim.ledger import Operation


async def authorize(
    conn: AsyncConnection,
    *,
    idempotency_key: str,
    amount_minor: int,
    currency: str,
    payment_method: str,
    reference: str,
) -> Operation:
    outcome = rules.authorization_outcome(payment_method)
    return await ledger.record(
        conn,
        kind="authorization",
        idempotency_key=idempotency_key,
        reference=reference,
        amount_minor=amount_minor,
        currency=currency,
        status=outcome.status,
        decline_code=outcome.decline_code,
        decline_reason=outcome.decline_reason,
    )


async def capture(
    conn: AsyncConnection,
    *,
    idempotency_key: str,
    authorization_id: str,
    amount_minor: int,
    reference: str,
) -> Operation:
    held = await ledger.held_authorization(conn, authorization_id)
    rules.check_capture(held, amount_minor)
    return await ledger.record(
        conn,
        kind="capture",
        idempotency_key=idempotency_key,
        reference=reference,
        authorization_id=authorization_id,
        amount_minor=amount_minor,
        currency=held.currency,
        status="succeeded",
    )


async def void(
    conn: AsyncConnection, *, idempotency_key: str, authorization_id: str, reference: str
) -> Operation:
    held = await ledger.held_authorization(conn, authorization_id)
    rules.check_void(held)
    return await ledger.record(
        conn,
        kind="void",
        idempotency_key=idempotency_key,
        reference=reference,
        authorization_id=authorization_id,
        currency=held.currency,
        status="succeeded",
    )


async def refund(
    conn: AsyncConnection,
    *,
    idempotency_key: str,
    capture_id: str,
    amount_minor: int,
    reference: str,
) -> Operation:
    capture = await ledger.refundable_capture(conn, capture_id)
    rules.check_refund(capture, amount_minor)
    return await ledger.record(
        conn,
        kind="refund",
        idempotency_key=idempotency_key,
        reference=reference,
        authorization_id=capture.authorization_id,
        capture_id=capture_id,
        amount_minor=amount_minor,
        currency=capture.currency,
        status="refunded",
    )
