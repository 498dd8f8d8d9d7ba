"""Reads and writes of the operations ledger, on the caller's connection and transaction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, insert, select

from psp_sim.errors import AuthorizationNotFound, CaptureNotFound
from psp_sim.rules import HeldAuthorization, RefundableCapture
from psp_sim.tables import operations

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Row
    from sqlalchemy.ext.asyncio import AsyncConnection

Kind = Literal["authorization", "capture", "void", "refund"]
ID_PREFIX: dict[Kind, str] = {
    "authorization": "auth",
    "capture": "cap",
    "void": "void",
    "refund": "re",
}


# Built once: only its values change from one operation to the next.
_RECORD = insert(operations).returning(*operations.c)


@dataclass(frozen=True)
class Operation:
    kind: Kind
    id: str
    idempotency_key: str
    reference: str
    authorization_id: str
    capture_id: str | None
    amount_minor: int | None
    currency: str
    status: str
    decline_code: str | None
    decline_reason: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: Row[Any]) -> Operation:
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class Filters:
    reference: str | None = None
    kind: Kind | None = None
    authorization_id: str | None = None
    capture_id: str | None = None
    idempotency_key: str | None = None


def new_id(kind: Kind) -> str:
    return f"{ID_PREFIX[kind]}_{secrets.token_hex(12)}"


async def record(
    conn: AsyncConnection,
    *,
    kind: Kind,
    idempotency_key: str,
    reference: str,
    status: str,
    currency: str,
    authorization_id: str | None = None,
    capture_id: str | None = None,
    amount_minor: int | None = None,
    decline_code: str | None = None,
    decline_reason: str | None = None,
) -> Operation:
    operation_id = new_id(kind)
    row = (
        await conn.execute(
            _RECORD,
            {
                "id": operation_id,
                "kind": kind,
                "idempotency_key": idempotency_key,
                "reference": reference,
                "authorization_id": authorization_id or operation_id,
                "capture_id": capture_id,
                "amount_minor": amount_minor,
                "currency": currency,
                "status": status,
                "decline_code": decline_code,
                "decline_reason": decline_reason,
            },
        )
    ).one()
    return Operation.of(row)


async def held_authorization(conn: AsyncConnection, authorization_id: str) -> HeldAuthorization:
    """The authorization's state, its row locked until the transaction ends: captures and voids
    of one authorization run one at a time, so their sum cannot pass the authorized amount.
    """
    auth = (
        await conn.execute(
            select(operations)
            .where(operations.c.id == authorization_id, operations.c.kind == "authorization")
            .with_for_update()
        )
    ).first()
    if auth is None:
        raise AuthorizationNotFound(f"No such authorization: {authorization_id!r}")
    captured, voids = (
        await conn.execute(
            select(
                func.coalesce(
                    func.sum(operations.c.amount_minor).filter(operations.c.kind == "capture"), 0
                ),
                func.count().filter(operations.c.kind == "void"),
            ).where(operations.c.authorization_id == authorization_id)
        )
    ).one()
    return HeldAuthorization(
        id=auth.id,
        status=auth.status,
        amount_minor=auth.amount_minor,
        currency=auth.currency,
        captured_minor=int(captured),
        voided=voids > 0,
    )


async def refundable_capture(conn: AsyncConnection, capture_id: str) -> RefundableCapture:
    """The capture's state, its row locked until the transaction ends: refunds of one capture
    run one at a time, so their sum cannot pass the captured amount.
    """
    capture = (
        await conn.execute(
            select(operations)
            .where(operations.c.id == capture_id, operations.c.kind == "capture")
            .with_for_update()
        )
    ).first()
    if capture is None:
        raise CaptureNotFound(f"No such capture: {capture_id!r}")
    refunded = (
        await conn.execute(
            select(func.coalesce(func.sum(operations.c.amount_minor), 0)).where(
                operations.c.capture_id == capture_id, operations.c.kind == "refund"
            )
        )
    ).scalar_one()
    return RefundableCapture(
        id=capture.id,
        authorization_id=capture.authorization_id,
        amount_minor=capture.amount_minor,
        currency=capture.currency,
        refunded_minor=int(refunded),
    )


async def find(conn: AsyncConnection, filters: Filters) -> list[Operation]:
    query = select(operations).order_by(operations.c.seq)
    for name in ("reference", "kind", "authorization_id", "capture_id", "idempotency_key"):
        value = getattr(filters, name)
        if value is not None:
            query = query.where(operations.c[name] == value)
    return [Operation.of(row) for row in await conn.execute(query)]
