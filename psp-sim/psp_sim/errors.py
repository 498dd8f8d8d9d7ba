"""The provider's named errors: each has the machine code and HTTP status its API answers with.
The refusals of the rules on the ledger (authorization_not_found, authorization_not_capturable,
amount_exceeds_authorization, authorization_not_voidable, capture_not_found,
refund_exceeds_capture) are answered by the operation functions in the database (migration 0003).
"""

from __future__ import annotations


class Rejection(Exception):
    code = "rejected"
    http_status = 400

    @property
    def message(self) -> str:
        return str(self)

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidRequest(Rejection):
    code = "invalid_request"


class IdempotencyKeyMissing(Rejection):
    code = "idempotency_key_missing"


class IdempotencyKeyReused(Rejection):
    code = "idempotency_key_reused"
    http_status = 409


class InvalidPaymentMethod(Rejection):
    code = "invalid_payment_method"
