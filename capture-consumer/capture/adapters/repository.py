"""Loads and stores payments with their payment orders."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
        return self._session.get(Payment, payment_id, with_for_update=True)
