"""The port capture needs from a payment provider; `paykit.provider.ProviderClient` implements it
for the HTTP provider API, and a real provider's adapter would implement the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from paykit.provider import Capture


class PaymentProvider(Protocol):
    def capture(
        self, *, idempotency_key: str, authorization_id: str, amount_minor: int, reference: str
    ) -> Capture: ...
