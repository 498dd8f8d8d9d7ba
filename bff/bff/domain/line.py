"""A payment's seller lines as the read model keeps them: the amount asked for and how the line's
capture settled. Lines are values: a change replaces the line."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from bff.domain.status import PaymentStatus

if TYPE_CHECKING:
    from collections.abc import Sequence


class LineCapture(StrEnum):
    PENDING = "PENDING"
    CAPTURED = "CAPTURED"
    CAPTURE_FAILED = "CAPTURE_FAILED"


@dataclass(frozen=True, kw_only=True)
class PaymentLine:
    line_no: int
    seller_id: str
    amount_minor: int
    capture_status: LineCapture = LineCapture.PENDING
    captured_minor: int = 0

    def captured(self, amount_minor: int) -> PaymentLine:
        # Money the provider took is a fact no other event can take back: it beats a failure
        # heard of earlier, and a repeat of the capture changes nothing.
        return replace(
            self,
            capture_status=LineCapture.CAPTURED,
            captured_minor=max(self.captured_minor, amount_minor),
        )

    def capture_failed(self) -> PaymentLine:
        if self.capture_status is not LineCapture.PENDING:
            return self
        return replace(self, capture_status=LineCapture.CAPTURE_FAILED)


def capture_outcome(lines: Sequence[PaymentLine]) -> PaymentStatus | None:
    """What the lines' captures add up to once every line settled; None while one is pending."""
    states = {line.capture_status for line in lines}
    if not states or LineCapture.PENDING in states:
        return None
    if states == {LineCapture.CAPTURE_FAILED}:
        return PaymentStatus.FAILED
    if LineCapture.CAPTURE_FAILED in states:
        return PaymentStatus.PARTIALLY_CAPTURED
    return PaymentStatus.CAPTURED
