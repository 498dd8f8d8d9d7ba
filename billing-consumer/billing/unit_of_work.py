"""billing's unit of work: the shared one plus its repository."""

from __future__ import annotations

from typing import Self

from billing.adapters.repository import AuthorizationRepository
from paykit.unit_of_work import UnitOfWork


class BillingUnitOfWork(UnitOfWork):
    authorizations: AuthorizationRepository

    def __enter__(self) -> Self:
        super().__enter__()
        self.authorizations = AuthorizationRepository(self.session)
        return self
