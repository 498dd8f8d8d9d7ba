"""The baseline's records: a checkout claimed under its Idempotency-Key, its order, its answer.
Each step is a short transaction of its own, so no connection is held while the provider is
asked: the database pool is not what limits how many checkouts run at once."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from bff.domain.errors import IdempotencyKeyReused
from bff.domain.idempotency import Answer
from payctl.baseline.errors import CheckoutInProgress
from payctl.baseline.tables import checkouts, orders

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine


class CheckoutStatus(StrEnum):
    PROCESSING = "PROCESSING"
    UNAVAILABLE = "UNAVAILABLE"  # the provider failed it; a repeat of the request carries on
    CAPTURED = "CAPTURED"
    DECLINED = "DECLINED"
    REJECTED = "REJECTED"


# A checkout claimed longer ago than this is taken over by a repeat: the process that claimed
# it died. Longer than a checkout of a few lines takes even at the provider's timeout; should a
# slower one outlive it, the provider's idempotency keys still charge once.
CLAIM_LEASE = timedelta(seconds=60)


@dataclasses.dataclass(frozen=True)
class NewCheckout:
    payment_id: str
    idempotency_key: str
    fingerprint: str
    customer_id: str
    currency: str
    amount_minor: int


class CheckoutStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, checkout: NewCheckout) -> Answer | None:
        """None when this request is to run the checkout; the first answer when an earlier one
        finished it. Raises `IdempotencyKeyReused` for the key with another body and
        `CheckoutInProgress` while a twin runs it."""
        with self._engine.begin() as conn:
            claimed = conn.execute(
                insert(checkouts)
                .values(**dataclasses.asdict(checkout), status=CheckoutStatus.PROCESSING)
                .on_conflict_do_nothing()
                .returning(checkouts.c.payment_id)
            ).first()
            if claimed is not None:
                return None
            # The twin that inserted it has committed by now: the insert above waited for it.
            row = conn.execute(
                select(
                    checkouts.c.fingerprint,
                    checkouts.c.status,
                    checkouts.c.answer_status,
                    checkouts.c.answer,
                    (checkouts.c.updated_at > func.now() - CLAIM_LEASE).label("leased"),
                )
                .where(checkouts.c.payment_id == checkout.payment_id)
                .with_for_update()
            ).one()
            if row.fingerprint != checkout.fingerprint:
                raise IdempotencyKeyReused(
                    f"Idempotency-Key {checkout.idempotency_key!r} was first used with another "
                    "request; use a new key for a new checkout"
                )
            if row.answer is not None:
                return Answer(row.answer_status, row.answer)
            if row.status == CheckoutStatus.PROCESSING and row.leased:
                raise CheckoutInProgress(
                    f"Idempotency-Key {checkout.idempotency_key!r}: the checkout is running; "
                    "ask again when it has answered"
                )
            self._set(conn, checkout.payment_id, status=CheckoutStatus.PROCESSING)
            return None

    def create_order(
        self,
        *,
        order_id: str,
        payment_id: str,
        customer_id: str,
        currency: str,
        amount_minor: int,
        authorization_id: str,
        lines: list[dict[str, Any]],
    ) -> None:
        """Creates the order unconfirmed; a repeat of the checkout finds it made."""
        with self._engine.begin() as conn:
            conn.execute(
                insert(orders)
                .values(
                    order_id=order_id,
                    payment_id=payment_id,
                    customer_id=customer_id,
                    currency=currency,
                    amount_minor=amount_minor,
                    authorization_id=authorization_id,
                    lines=lines,
                    status="CREATED",
                )
                .on_conflict_do_nothing()
            )

    def confirm_order(self, order_id: str, sso_jti: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(orders)
                .where(orders.c.order_id == order_id, orders.c.status == "CREATED")
                .values(status="CONFIRMED", sso_jti=sso_jti)
            )

    def finish(
        self, payment_id: str, status: CheckoutStatus, answer: Answer, **result: Any
    ) -> Answer:
        """Stores the final answer, which every repeat of the request replays."""
        with self._engine.begin() as conn:
            self._set(
                conn,
                payment_id,
                status=status,
                answer_status=answer.status_code,
                answer=answer.body,
                **result,
            )
        return answer

    def release(self, payment_id: str) -> None:
        """The provider failed the checkout: a repeat of the request may run it at once."""
        with self._engine.begin() as conn:
            self._set(conn, payment_id, status=CheckoutStatus.UNAVAILABLE)

    @staticmethod
    def _set(conn: Connection, payment_id: str, **values: Any) -> None:
        conn.execute(update(checkouts).where(checkouts.c.payment_id == payment_id).values(**values))
