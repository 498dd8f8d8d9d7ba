"""Loads and stores payments, checkout sessions and the answers given to idempotency keys with
the ORM, on the cold paths (refunds, status reads, opening checkout sessions); the accept path
writes in plain SQL (`bff.adapters.acceptance`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from bff.adapters.orm import idempotency_keys
from bff.domain.checkout import CheckoutSession
from bff.domain.idempotency import Answer
from bff.domain.payment import Payment

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class PaymentRepository:
    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, payment_id: str) -> Payment | None:
        return self._session.get(Payment, payment_id)

    def get_for_update(self, payment_id: str) -> Payment | None:
        # FOR UPDATE: two events of one payment, handled at once from two topics, take turns.
        return self._session.get(Payment, payment_id, with_for_update=True)


class CheckoutSessions:
    def __init__(self, session: Session) -> None:
        self._session = session

    def add(self, checkout: CheckoutSession) -> None:
        self._session.add(checkout)

    def get(self, session_id: str) -> CheckoutSession | None:
        return self._session.get(CheckoutSession, session_id)


# Built once: the insert is the same for every payment, only its values change.
_CLAIM = (
    insert(idempotency_keys)
    .on_conflict_do_nothing(index_elements=[idempotency_keys.c.client_id, idempotency_keys.c.key])
    .returning(idempotency_keys.c.key)
)


class IdempotencyKeys:
    def __init__(self, session: Session) -> None:
        self._session = session

    def claim(
        self, client_id: str, key: str, fingerprint: str, payment_id: str, answer: Answer
    ) -> bool:
        """Stores the answer for a new key; False when the key already has one.

        A twin request still in flight holds the uncommitted row: this insert waits for it,
        then sees the conflict (or claims the key if the twin rolled back).
        """
        claimed = self._session.execute(
            _CLAIM,
            {
                "client_id": client_id,
                "key": key,
                "fingerprint": fingerprint,
                "payment_id": payment_id,
                "status_code": answer.status_code,
                "response": answer.body,
            },
        ).first()
        return claimed is not None

    def answer(self, client_id: str, key: str, answer: Answer) -> None:
        """Replaces the answer stored when the key was claimed, in the same transaction."""
        self._session.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.client_id == client_id, idempotency_keys.c.key == key)
            .values(status_code=answer.status_code, response=answer.body)
        )

    def first_answer(self, client_id: str, key: str) -> tuple[str, Answer]:
        """The fingerprint and answer stored for a key that `claim` found taken."""
        row = self._session.execute(
            select(
                idempotency_keys.c.fingerprint,
                idempotency_keys.c.status_code,
                idempotency_keys.c.response,
            ).where(idempotency_keys.c.client_id == client_id, idempotency_keys.c.key == key)
        ).one()
        return row.fingerprint, Answer(row.status_code, row.response)
