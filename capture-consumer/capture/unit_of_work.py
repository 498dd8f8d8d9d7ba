"""capture's unit of work: the shared one plus its repository and ledger."""

from __future__ import annotations

from typing import Self

from capture.adapters.ledger import Ledger
from capture.adapters.repository import PaymentRepository
from paykit.unit_of_work import UnitOfWork


class CaptureUnitOfWork(UnitOfWork):
    payments: PaymentRepository
    ledger: Ledger

    def __enter__(self) -> Self:
        super().__enter__()
        self.payments = PaymentRepository(self.session)
        self.ledger = Ledger(self.session)
        return self
