"""The port capture needs from a payment provider; `paykit.provider.ProviderClient` implements it
for the HTTP provider API, and a real provider's adapter would implement the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from paykit.provider import Capture, Operation


class ProviderRefund(Protocol):
    """What capture reads of the provider's answer to a refund."""

    @property
    def id(self) -> str: ...

    @property
    def status(self) -> str: ...


class PaymentProvider(Protocol):
    def capture(
        self, *, idempotency_key: str, authorization_id: str, amount_minor: int, reference: str
    ) -> Capture: ...

    def refund(
        self, *, idempotency_key: str, capture_id: str, amount_minor: int, reference: str
    ) -> ProviderRefund: ...

    def find_operations(self, idempotency_key: str) -> list[Operation]:
        """What the provider did under this key: how an unknown outcome is settled."""
        ...
