"""The provider's named errors: each has the machine code and HTTP status its API answers with."""

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


class AuthorizationNotFound(Rejection):
    code = "authorization_not_found"
    http_status = 404


class AmountExceedsAuthorization(Rejection):
    code = "amount_exceeds_authorization"
    http_status = 409


class AuthorizationNotCapturable(Rejection):
    code = "authorization_not_capturable"
    http_status = 409


class AuthorizationNotVoidable(Rejection):
    code = "authorization_not_voidable"
    http_status = 409


class CaptureNotFound(Rejection):
    code = "capture_not_found"
    http_status = 404


class RefundExceedsCapture(Rejection):
    code = "refund_exceeds_capture"
    http_status = 422
