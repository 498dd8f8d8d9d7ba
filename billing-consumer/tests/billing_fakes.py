"""A provider that keeps Stripe's idempotency rule: one operation per key, the same answer after."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime

from paykit.provider import Authorization, Operation, OutcomeUnknown, ProviderUnavailable, Void


class FakeProvider:
    def __init__(self) -> None:
        self.answers: dict[str, object] = {}
        self.calls: Counter[str] = Counter()
        self.unavailable_for = 0
        # Acts, then loses the answer on the way back: the caller cannot know what happened.
        self.answers_lost_for = 0
        self.lookups = 0
        self._ids = itertools.count(1)

    def authorize(
        self,
        *,
        idempotency_key: str,
        amount_minor: int,
        currency: str,
        payment_method: str,
        reference: str,
    ) -> Authorization:
        self._maybe_fail()
        self.calls[idempotency_key] += 1
        if idempotency_key not in self.answers:
            declined = payment_method == "pm_card_declined"
            self.answers[idempotency_key] = Authorization(
                id=f"auth_{next(self._ids)}",
                status="declined" if declined else "authorized",
                amount_minor=amount_minor,
                currency=currency,
                reference=reference,
                decline_code="card_declined" if declined else None,
                decline_reason="Your card was declined." if declined else None,
            )
        answer = self.answers[idempotency_key]
        assert isinstance(answer, Authorization)
        self._maybe_lose_answer()
        return answer

    def find_operations(self, idempotency_key: str) -> list[Operation]:
        self._maybe_fail()
        self.lookups += 1
        answer = self.answers.get(idempotency_key)
        if isinstance(answer, Authorization):
            return [
                Operation(
                    kind="authorization",
                    id=answer.id,
                    idempotency_key=idempotency_key,
                    reference=answer.reference,
                    authorization_id=answer.id,
                    amount_minor=answer.amount_minor,
                    currency=answer.currency,
                    status=answer.status,
                    decline_code=answer.decline_code,
                    decline_reason=answer.decline_reason,
                    created_at=datetime.now(UTC),
                )
            ]
        if isinstance(answer, Void):
            return [
                Operation(
                    kind="void",
                    id=answer.id,
                    idempotency_key=idempotency_key,
                    reference="",
                    authorization_id=answer.authorization_id,
                    amount_minor=None,
                    currency="EUR",
                    status=answer.status,
                    decline_code=None,
                    decline_reason=None,
                    created_at=datetime.now(UTC),
                )
            ]
        return []

    def void(self, *, idempotency_key: str, authorization_id: str, reference: str) -> Void:
        self._maybe_fail()
        self.calls[idempotency_key] += 1
        answer = self.answers.setdefault(
            idempotency_key,
            Void(
                id=f"void_{next(self._ids)}", authorization_id=authorization_id, status="succeeded"
            ),
        )
        assert isinstance(answer, Void)
        return answer

    def operations(self) -> int:
        return len(self.answers)

    def _maybe_lose_answer(self) -> None:
        if self.answers_lost_for > 0:
            self.answers_lost_for -= 1
            raise OutcomeUnknown("simulated read timeout after the request was sent")

    def _maybe_fail(self) -> None:
        if self.unavailable_for > 0:
            self.unavailable_for -= 1
            raise ProviderUnavailable("simulated outage")
