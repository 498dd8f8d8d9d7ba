"""capture's unit of work: the shared one plus its repository."""

from __future__ import annotations

from typing import Self

from capture.adapters.repository import PaymentRepository
from paykit.unit_of_work import UnitOfWork


class CaptureUnitOfWork(UnitOfWork):
    payments: PaymentRepository

    def __enter__(self) -> Self:
        super().__enter__()
        self.payments = PaymentRepository(self.session)
        return self
