"""A provider that keeps Stripe's idempotency rule: one operation per key, the same answer after,
refusals included."""

from __future__ import annotations

import itertools
from collections import Counter

from paykit.provider import Capture, ProviderRejected, ProviderUnavailable


class FakeProvider:
    def __init__(self) -> None:
        self.answers: dict[str, Capture | ProviderRejected] = {}
        self.calls: Counter[str] = Counter()  # every call, replays included
        self.performed: Counter[str] = Counter()  # operations the provider actually carried out
        self._refusals: dict[str, ProviderRejected] = {}
        self._outages: dict[str, bool] = {}
        self._ids = itertools.count(1)

    def refuse(self, idempotency_key: str, code: str = "authorization_not_capturable") -> None:
        self._refusals[idempotency_key] = ProviderRejected(code, f"refused: {code}", 409)

    def unavailable_once(self, idempotency_key: str, after_performing: bool = False) -> None:
        """The next call with this key gets no answer; `after_performing`: the provider did the
        work and the answer was lost on the way back, the case idempotency keys exist for."""
        self._outages[idempotency_key] = after_performing

    def capture(
        self, *, idempotency_key: str, authorization_id: str, amount_minor: int, reference: str
    ) -> Capture:
        self.calls[idempotency_key] += 1
        outage = self._outages.pop(idempotency_key, None)
        if outage is False:
            raise ProviderUnavailable("simulated outage")
        if idempotency_key not in self.answers:
            self.performed[idempotency_key] += 1
            self.answers[idempotency_key] = self._refusals.get(idempotency_key) or Capture(
                id=f"cap_{next(self._ids)}",
                authorization_id=authorization_id,
                amount_minor=amount_minor,
                reference=reference,
                status="succeeded",
            )
        if outage is True:
            raise ProviderUnavailable("simulated timeout after the capture was made")
        answer = self.answers[idempotency_key]
        if isinstance(answer, ProviderRejected):
            raise answer
        return answer
