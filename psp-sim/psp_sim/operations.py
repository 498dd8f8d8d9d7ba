"""The provider operations, each one call of its server-side function (migration 0003): it
claims the Idempotency-Key, checks the rules against the ledger, writes the ledger row and stores
the answer in one statement, so an operation is one round trip and one transaction, and a request
that reached the rules keeps its answer, refusals included.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from psp_sim import rules
from psp_sim.errors import InvalidPaymentMethod

if TYPE_CHECKING:
    from typing import LiteralString

    from psycopg import AsyncConnection
    from psycopg.rows import TupleRow

    from psp_sim.api.models import (
        AuthorizationRequest,
        CaptureRequest,
        RefundRequest,
        VoidRequest,
    )

Kind = Literal["authorization", "capture", "void", "refund"]
ID_PREFIX: dict[Kind, str] = {
    "authorization": "auth",
    "capture": "cap",
    "void": "void",
    "refund": "re",
}
Result = Literal["performed", "replayed", "reused"]

_COLUMNS = "result, status_code, outcome, operation_id, response"


@dataclass(frozen=True, slots=True)
class Answer:
    """What an operation function answered. `performed`: this request ran the operation (or
    was refused by the rules) and its answer is stored; `replayed`: the stored answer of an
    earlier request with the same key; `reused`: the key was first used with another request."""

    result: Result
    status_code: int
    outcome: str | None
    operation_id: str | None
    response: str


def new_id(kind: Kind) -> str:
    return f"{ID_PREFIX[kind]}_{secrets.token_hex(12)}"


async def authorize(
    conn: AsyncConnection[TupleRow], key: str, fingerprint: str, body: AuthorizationRequest
) -> Answer:
    try:
        outcome = rules.authorization_outcome(body.payment_method)
    except InvalidPaymentMethod as e:
        return await _call(
            conn,
            f"SELECT {_COLUMNS} FROM psp_refuse(%s, %s, %s, %s, %s)",
            (key, fingerprint, e.http_status, e.code, e.message),
        )
    return await _call(
        conn,
        f"SELECT {_COLUMNS} FROM psp_authorize(%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            key,
            fingerprint,
            new_id("authorization"),
            body.amount_minor,
            body.currency,
            body.reference,
            outcome.status,
            outcome.decline_code,
            outcome.decline_reason,
        ),
    )


async def capture(
    conn: AsyncConnection[TupleRow],
    key: str,
    fingerprint: str,
    authorization_id: str,
    body: CaptureRequest,
) -> Answer:
    return await _call(
        conn,
        f"SELECT {_COLUMNS} FROM psp_capture(%s, %s, %s, %s, %s, %s)",
        (key, fingerprint, new_id("capture"), authorization_id, body.amount_minor, body.reference),
    )


async def void(
    conn: AsyncConnection[TupleRow],
    key: str,
    fingerprint: str,
    authorization_id: str,
    body: VoidRequest,
) -> Answer:
    return await _call(
        conn,
        f"SELECT {_COLUMNS} FROM psp_void(%s, %s, %s, %s, %s)",
        (key, fingerprint, new_id("void"), authorization_id, body.reference),
    )


async def refund(
    conn: AsyncConnection[TupleRow],
    key: str,
    fingerprint: str,
    capture_id: str,
    body: RefundRequest,
) -> Answer:
    return await _call(
        conn,
        f"SELECT {_COLUMNS} FROM psp_refund(%s, %s, %s, %s, %s, %s)",
        (key, fingerprint, new_id("refund"), capture_id, body.amount_minor, body.reference),
    )


async def _call(
    conn: AsyncConnection[TupleRow], query: LiteralString, params: tuple[object, ...]
) -> Answer:
    row = await (await conn.execute(query, params)).fetchone()
    assert row is not None, "an operation function always answers one row"
    return Answer(*row)
