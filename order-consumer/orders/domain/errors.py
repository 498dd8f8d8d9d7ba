"""The order's named errors."""

from __future__ import annotations

from paykit.errors import ImpossibleEvent


class InvalidTransition(ImpossibleEvent):
    code = "invalid_order_transition"
