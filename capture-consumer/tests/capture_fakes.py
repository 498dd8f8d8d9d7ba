"""A provider that keeps Stripe's idempotency rule: one operation per key, the same answer after,
refusals included. It keeps a ledger of what it performed, which `find_operations` reads, and
can lose answers, be slow (a request still in flight that a twin waits for, as psp-sim does), or
be down altogether."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from paykit.provider import (
    Capture,
    Operation,
    OutcomeUnknown,
    ProviderRejected,
    ProviderUnavailable,
    Refund,
)

if TYPE_CHECKING:
    from collections.abc import Callable

CAPTURED = "succeeded"
REFUNDED = "refunded"


class FakeProvider:
    def __init__(self) -> None:
        self.answers: dict[str, Capture | Refund | ProviderRejected] = {}
        self.operations: dict[str, Operation] = {}  # what it performed, by idempotency key
        self.calls: Counter[str] = Counter()  # every capture or refund call, replays included
        self.performed: Counter[str] = Counter()  # operations the provider actually carried out
        self.asked: Counter[str] = Counter()  # find_operations, by key
        self.down = False  # while True, nothing reaches it: every call and question fails
        self._refusals: dict[str, ProviderRejected] = {}
        self._outages: dict[str, bool] = {}
        self._unreachable: set[str] = set()
        self._slow: dict[str, int] = {}
        self.in_flight: dict[str, Callable[[], None]] = {}  # requests it has not performed yet
        self._statuses: dict[str, tuple[str, str | None]] = {}
        self._ids = itertools.count(1)

    def refuse(self, idempotency_key: str, code: str = "authorization_not_capturable") -> None:
        self._refusals[idempotency_key] = ProviderRejected(code, f"refused: {code}", 409)

    def unavailable_once(self, idempotency_key: str, after_performing: bool = False) -> None:
        """The next call with this key gets no answer; `after_performing`: the provider did the
        work and the answer was lost on the way back, the case idempotency keys exist for."""
        self._outages[idempotency_key] = after_performing

    def unreachable(self, idempotency_key: str) -> None:
        """Every call with this key fails before reaching the provider; questions are answered."""
        self._unreachable.add(idempotency_key)

    def reachable(self, idempotency_key: str) -> None:
        self._unreachable.discard(idempotency_key)

    def slow(self, idempotency_key: str, calls: int = 1) -> None:
        """The next `calls` calls with this key time out at the client (`OutcomeUnknown`) while
        the provider is still working on the first of them: until it is done, `find_operations`
        has no record of it. The call after them waits for it and gets its answer, as psp-sim
        answers a twin; `finish` has the provider finish it with nobody waiting."""
        self._slow[idempotency_key] = calls

    def finish(self, idempotency_key: str) -> None:
        self.in_flight.pop(idempotency_key)()

    def perform_with_status(
        self, idempotency_key: str, status: str, decline_code: str | None = None
    ) -> None:
        """The operation under this key is recorded with this status (not the successful one)."""
        self._statuses[idempotency_key] = (status, decline_code)

    def capture(
        self, *, idempotency_key: str, authorization_id: str, amount_minor: int, reference: str
    ) -> Capture:
        def perform(operation_id: str, status: str) -> Capture:
            return Capture(operation_id, authorization_id, amount_minor, reference, status)

        answer = self._once(idempotency_key, "capture", perform, amount_minor, reference)
        assert isinstance(answer, Capture)
        return answer

    def refund(
        self, *, idempotency_key: str, capture_id: str, amount_minor: int, reference: str
    ) -> Refund:
        if idempotency_key not in self.answers and self._refunded(capture_id) + amount_minor > (
            self._captured(capture_id)
        ):
            self._refusals.setdefault(
                idempotency_key,
                ProviderRejected("refund_exceeds_capture", "more than the capture", 422),
            )

        def perform(operation_id: str, status: str) -> Refund:
            return Refund(operation_id, capture_id, amount_minor, "EUR", status, _now())

        answer = self._once(idempotency_key, "refund", perform, amount_minor, reference, capture_id)
        assert isinstance(answer, Refund)
        return answer

    def find_operations(self, idempotency_key: str) -> list[Operation]:
        self.asked[idempotency_key] += 1
        if self.down:
            raise ProviderUnavailable("simulated outage")
        done = self.operations.get(idempotency_key)
        return [done] if done is not None else []

    def _once(
        self,
        key: str,
        kind: Literal["capture", "refund"],
        perform: Callable[[str, str], Capture | Refund],
        amount_minor: int,
        reference: str,
        capture_id: str | None = None,
    ) -> Capture | Refund:
        self.calls[key] += 1
        outage = self._outages.pop(key, None)
        if self.down or outage is False or key in self._unreachable:
            raise ProviderUnavailable("simulated outage")

        def perform_once() -> None:
            self._perform(key, kind, perform, amount_minor, reference, capture_id)

        if self._slow.get(key, 0) > 0 and key not in self.answers:
            self._slow[key] -= 1
            self.in_flight.setdefault(key, perform_once)
            raise OutcomeUnknown("simulated timeout while the provider is still working on it")
        self.in_flight.pop(key, None)  # a twin waits for the request in flight, then replays it
        perform_once()
        if outage is True:
            raise OutcomeUnknown("simulated timeout after the operation was made")
        answer = self.answers[key]
        if isinstance(answer, ProviderRejected):
            raise answer
        return answer

    def _perform(
        self,
        key: str,
        kind: Literal["capture", "refund"],
        perform: Callable[[str, str], Capture | Refund],
        amount_minor: int,
        reference: str,
        capture_id: str | None,
    ) -> None:
        """Carries out the request under `key`, unless something already was."""
        if key in self.answers:
            return
        self.performed[key] += 1
        refusal = self._refusals.get(key)
        if refusal is not None:
            self.answers[key] = refusal  # a refusal is kept, but it is no operation
            return
        default = CAPTURED if kind == "capture" else REFUNDED
        status, decline_code = self._statuses.get(key, (default, None))
        operation_id = f"{kind[:3]}_{next(self._ids)}"
        self.answers[key] = perform(operation_id, status)
        self.operations[key] = Operation(
            kind=kind,
            id=operation_id,
            idempotency_key=key,
            reference=reference,
            authorization_id="auth",
            amount_minor=amount_minor,
            currency="EUR",
            status=status,
            decline_code=decline_code,
            decline_reason=None if decline_code is None else f"declined: {decline_code}",
            created_at=_now(),
            capture_id=capture_id,
        )

    def _captured(self, capture_id: str) -> int:
        return sum(
            op.amount_minor or 0
            for op in self.operations.values()
            if op.kind == "capture" and op.id == capture_id
        )

    def _refunded(self, capture_id: str) -> int:
        return sum(
            op.amount_minor or 0
            for op in self.operations.values()
            if op.kind == "refund" and op.capture_id == capture_id
        )


def _now() -> datetime:
    return datetime.now(UTC)
