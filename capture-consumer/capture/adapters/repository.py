"""Loads and stores payments with their payment orders and refunds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from capture.adapters.orm import refunds
from capture.domain.model import Payment

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class PaymentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, payment: Payment) -> None:
        self._session.add(payment)
        # Written now, before any capture: a twin handling the same payment under another event
        # id waits here on the primary key, then fails and rolls back without calling the
        # provider; its retry finds the payment recorded.
        self._session.flush()

    def get(self, payment_id: str) -> Payment | None:
        # Locked for the transaction: captures and refunds of one payment run one at a time, so
        # "never refund more than was captured" is checked against the latest sums.
        return self._session.get(Payment, payment_id, with_for_update=True)

    def flush(self) -> None:
        """Writes the payment's changes now, before money moves: a row the database refuses
        fails here rather than after the provider acted."""
        self._session.flush()

    def payment_of_refund(self, refund_id: str) -> str | None:
        return self._session.execute(
            select(refunds.c.payment_id).where(refunds.c.refund_id == refund_id)
        ).scalar_one_or_none()
