"""The port billing needs from a payment provider; `paykit.provider.ProviderClient` implements it
for the HTTP provider API, and a real provider's adapter would implement the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from paykit.provider import Authorization, Operation, Void


class PaymentProvider(Protocol):
    def authorize(
        self,
        *,
        idempotency_key: str,
        amount_minor: int,
        currency: str,
        payment_method: str,
        reference: str,
    ) -> Authorization: ...

    def void(self, *, idempotency_key: str, authorization_id: str, reference: str) -> Void: ...

    def find_operations(self, idempotency_key: str) -> list[Operation]: ...
