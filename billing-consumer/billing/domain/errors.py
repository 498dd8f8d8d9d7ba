"""Billing's named errors."""

from __future__ import annotations

from paykit.errors import ImpossibleEvent


class UnknownPayment(ImpossibleEvent):
    code = "unknown_payment"


class InvalidTransition(ImpossibleEvent):
    code = "invalid_authorization_transition"
