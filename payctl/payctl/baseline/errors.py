"""The baseline's named errors; `payctl.baseline.app` answers them."""

from __future__ import annotations

from paykit.errors import PaymentsError


class CheckoutInProgress(PaymentsError):
    """A twin request with the same Idempotency-Key is running the checkout."""

    code = "checkout_in_progress"


class CheckoutRefused(PaymentsError):
    """The provider refused a step for good; the checkout ends with the provider's code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
