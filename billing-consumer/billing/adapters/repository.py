"""Loads and stores authorizations."""

from __future__ import annotations

from typing import TYPE_CHECKING

from billing.domain.model import Authorization

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class AuthorizationRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, authorization: Authorization) -> None:
        self._session.add(authorization)

    def get(self, payment_id: str) -> Authorization | None:
        # FOR UPDATE: a void and a late duplicate of the same payment serialize here.
        return self._session.get(Authorization, payment_id, with_for_update=True)
