"""orders' unit of work: the shared one plus its repositories."""

from __future__ import annotations

from typing import Self

from orders.adapters.repository import OrderRepository, SsoTokenRepository
from paykit.unit_of_work import UnitOfWork


class OrdersUnitOfWork(UnitOfWork):
    orders: OrderRepository
    sso_tokens: SsoTokenRepository

    def __enter__(self) -> Self:
        super().__enter__()
        self.orders = OrderRepository(self.session)
        self.sso_tokens = SsoTokenRepository(self.session)
        return self
