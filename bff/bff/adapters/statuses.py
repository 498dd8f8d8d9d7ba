"""The status read model as the projector loads and saves it: many payments at once, in plain SQL
(`paykit.states.StateStore`). A payment comes with its refunds and without its history: the
projector only adds history entries, and saves the ones a batch added."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from bff.adapters.orm import payment_lines, payment_lines_json, refund_lines, refund_lines_json
from bff.domain.payment import Payment
from bff.domain.refund import Refund, RefundStatus
from bff.domain.status import PaymentStatus

if TYPE_CHECKING:
    from collections.abc import Sequence

    import psycopg

# Ordered, so that batches locking many payments take the locks in one order.
LOAD_PAYMENTS = (
    "SELECT payment_id, client_id, customer_id, currency, amount_minor, lines, return_url, "
    "created_at, updated_at, status, authorized_minor, captured_minor, refunded_minor, order_id, "
    "sso_token, redirect_url, failure_code, failure_reason "
    "FROM payments WHERE payment_id = ANY(%s) ORDER BY payment_id FOR UPDATE"
)
LOAD_REFUNDS = (
    "SELECT payment_id, refund_id, amount_minor, lines, reason, requested_at, updated_at, status, "
    "failure_code, failure_reason "
    "FROM refunds WHERE payment_id = ANY(%s) ORDER BY requested_at, refund_id"
)
SAVE_PAYMENTS = (
    "UPDATE payments AS p SET status = v.status, authorized_minor = v.authorized_minor, "
    "captured_minor = v.captured_minor, refunded_minor = v.refunded_minor, "
    "order_id = v.order_id, sso_token = v.sso_token, redirect_url = v.redirect_url, "
    "failure_code = v.failure_code, failure_reason = v.failure_reason, lines = v.lines, "
    "updated_at = v.updated_at "
    "FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[], "
    "%s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[], %s::timestamptz[]) "
    "AS v(payment_id, status, authorized_minor, captured_minor, refunded_minor, order_id, "
    "sso_token, redirect_url, failure_code, failure_reason, lines, updated_at) "
    "WHERE p.payment_id = v.payment_id"
)
ADD_HISTORY = (
    "INSERT INTO payment_history (payment_id, status, event, event_id, at) "
    "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[])"
)
SAVE_REFUND = (
    "UPDATE refunds SET amount_minor = %s, lines = %s, status = %s, failure_code = %s, "
    "failure_reason = %s, updated_at = %s WHERE refund_id = %s"
)


class PaymentStatuses:
    """Loads payments that exist; the projector never creates one (the API does)."""

    def load(self, conn: psycopg.Connection[Any], payment_ids: Sequence[str]) -> dict[str, Payment]:
        payments = conn.execute(LOAD_PAYMENTS, (list(payment_ids),))
        refunds = conn.execute(LOAD_REFUNDS, (list(payment_ids),))
        loaded = {row[0]: _payment(row) for row in payments.fetchall()}
        for row in refunds.fetchall():
            loaded[row[0]].refunds.append(_refund(row))
        return loaded

    def save(self, conn: psycopg.Connection[Any], states: Sequence[Payment]) -> None:
        conn.execute(
            SAVE_PAYMENTS,
            (
                [p.payment_id for p in states],
                [p.status.value for p in states],
                [p.authorized_minor for p in states],
                [p.captured_minor for p in states],
                [p.refunded_minor for p in states],
                [p.order_id for p in states],
                [p.sso_token for p in states],
                [p.redirect_url for p in states],
                [p.failure_code for p in states],
                [p.failure_reason for p in states],
                [Jsonb(payment_lines_json(p.lines)) for p in states],
                [p.updated_at for p in states],
            ),
        )
        history = [(p.payment_id, h) for p in states for h in p.history]
        if history:
            conn.execute(
                ADD_HISTORY,
                (
                    [payment_id for payment_id, _ in history],
                    [h.status.value for _, h in history],
                    [h.event for _, h in history],
                    [h.event_id for _, h in history],
                    [h.at for _, h in history],
                ),
            )
            for p in states:
                p.history.clear()  # saved: a later save must not add them again
        refunds = [r for p in states for r in p.refunds]
        if refunds:
            conn.cursor().executemany(
                SAVE_REFUND,
                [
                    (
                        r.amount_minor,
                        Jsonb(refund_lines_json(r.lines)),
                        r.status.value,
                        r.failure_code,
                        r.failure_reason,
                        r.updated_at,
                        r.refund_id,
                    )
                    for r in refunds
                ],
            )


def _payment(row: tuple[Any, ...]) -> Payment:
    return Payment(
        payment_id=row[0],
        client_id=row[1],
        customer_id=row[2],
        currency=row[3],
        amount_minor=row[4],
        lines=payment_lines(row[5]),
        return_url=row[6],
        created_at=row[7],
        updated_at=row[8],
        status=PaymentStatus(row[9]),
        authorized_minor=row[10],
        captured_minor=row[11],
        refunded_minor=row[12],
        order_id=row[13],
        sso_token=row[14],
        redirect_url=row[15],
        failure_code=row[16],
        failure_reason=row[17],
    )


def _refund(row: tuple[Any, ...]) -> Refund:
    return Refund(
        refund_id=row[1],
        amount_minor=row[2],
        lines=refund_lines(row[3]),
        reason=row[4],
        requested_at=row[5],
        updated_at=row[6],
        status=RefundStatus(row[7]),
        failure_code=row[8],
        failure_reason=row[9],
    )
