"""Loads and stores orders, and records the SSO tokens issued for them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from orders.adapters.orm import orders, sso_tokens
from orders.domain.model import Order

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from orders.adapters.sso import SsoToken


class OrderRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, order: Order) -> None:
        self._session.add(order)
        # Written now, not at commit: a second order for the payment fails here on the unique
        # payment id, and the token row recorded next refers to this one.
        self._session.flush()

    def for_payment(self, payment_id: str) -> Order | None:
        return self._session.scalars(
            select(Order).where(orders.c.payment_id == payment_id)
        ).one_or_none()


class SsoTokenRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, token: SsoToken) -> None:
        self._session.execute(
            insert(sso_tokens).values(
                jti=token.jti,
                order_id=token.order_id,
                customer_id=token.customer_id,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
            )
        )
