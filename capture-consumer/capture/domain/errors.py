"""Capture's named errors: each one an OrderConfirmed that cannot apply to the payment's state."""

from __future__ import annotations

from paykit.errors import ImpossibleEvent


class InvalidSplit(ImpossibleEvent):
    code = "invalid_payment_split"


class CaptureExceedsAuthorization(ImpossibleEvent):
    code = "capture_exceeds_authorization"


class LineAlreadyCaptured(ImpossibleEvent):
    code = "line_already_captured"


class UnknownLine(ImpossibleEvent):
    code = "unknown_payment_line"


class InvalidTransition(ImpossibleEvent):
    code = "invalid_capture_transition"
