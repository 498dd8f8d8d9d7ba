"""The BFF's unit of work: the shared one plus its repositories."""

from __future__ import annotations

from typing import Self

from bff.adapters.repository import CheckoutSessions, IdempotencyKeys, PaymentRepository
from paykit.unit_of_work import UnitOfWork


class BffUnitOfWork(UnitOfWork):
    payments: PaymentRepository
    idempotency_keys: IdempotencyKeys
    checkout_sessions: CheckoutSessions

    def __enter__(self) -> Self:
        super().__enter__()
        self.payments = PaymentRepository(self.session)
        self.idempotency_keys = IdempotencyKeys(self.session)
        self.checkout_sessions = CheckoutSessions(self.session)
        return self
