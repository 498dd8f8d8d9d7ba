"""Refunds of captured money: what one asks back per seller line, how it ends, and the rule that
a payment never has more refunded or asked back than was captured, per line and in total.

A refund goes REFUND_REQUESTED -> REFUNDED | REFUND_FAILED, and a settled refund absorbs. A failed
refund no longer holds its amount, so the same money may be asked back again. A refund paid back
only in part (the provider refused some of its lines) keeps only the lines that went back: the
others no longer hold their amount either.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bff.domain.errors import (
    InvalidRefund,
    RefundExceedsCaptured,
    RefundLinesNotRequested,
    UnknownLine,
)
from payment_events.events import RefundLine

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from bff.domain.line import PaymentLine


class RefundStatus(StrEnum):
    REFUND_REQUESTED = "REFUND_REQUESTED"
    REFUNDED = "REFUNDED"
    REFUND_FAILED = "REFUND_FAILED"


@dataclass(eq=False, kw_only=True)
class Refund:
    refund_id: str
    amount_minor: int
    lines: tuple[RefundLine, ...]
    reason: str | None
    requested_at: datetime
    updated_at: datetime
    status: RefundStatus = RefundStatus.REFUND_REQUESTED
    failure_code: str | None = None
    failure_reason: str | None = None

    def on_line(self, line_no: int) -> int:
        return sum(x.amount_minor for x in self.lines if x.line_no == line_no)

    def pay_back(self, lines: Sequence[RefundLine], amount_minor: int, at: datetime) -> None:
        """Settles the refund REFUNDED with what really went back: `lines`, some of the lines it
        asked for, each at most what it asked of that line. The lines left out were refused by
        the provider; they are dropped, so their amount is refundable again. Refused, changing
        nothing, when `lines` are not such; a refund already settled stays as it is."""
        self._check_paid_back(lines, amount_minor)
        if self.status is not RefundStatus.REFUND_REQUESTED:
            return
        self.lines = tuple(sorted(lines, key=lambda x: x.line_no))
        self.amount_minor = amount_minor
        self.settle(RefundStatus.REFUNDED, at)

    def _check_paid_back(self, lines: Sequence[RefundLine], amount_minor: int) -> None:
        subject = f"PaymentRefunded {self.refund_id}"
        numbers = [x.line_no for x in lines]
        if not lines or len(set(numbers)) != len(numbers):
            raise RefundLinesNotRequested(f"{subject}: paid back line numbers {numbers}")
        if sum(x.amount_minor for x in lines) != amount_minor:
            raise RefundLinesNotRequested(f"{subject}: lines do not add up to {amount_minor}")
        asked = {x.line_no: x.amount_minor for x in self.lines}
        for line in lines:
            if not 0 < line.amount_minor <= asked.get(line.line_no, 0):
                raise RefundLinesNotRequested(
                    f"{subject}: pays back {line.amount_minor} on line {line.line_no}, "
                    f"which the refund asked {asked.get(line.line_no, 0)} of"
                )

    def settle(
        self,
        status: RefundStatus,
        at: datetime,
        code: str | None = None,
        reason: str | None = None,
    ) -> None:
        # A repeated or contradicting outcome after the first changes nothing.
        if self.status is not RefundStatus.REFUND_REQUESTED:
            return
        self.status = status
        self.failure_code, self.failure_reason = code, reason
        self.updated_at = max(self.updated_at, at)


def held_by(refunds: Iterable[Refund]) -> int:
    """What refunds still waiting for their outcome hold of the captured money."""
    return sum(r.amount_minor for r in refunds if r.status is RefundStatus.REFUND_REQUESTED)


@dataclass(frozen=True)
class LineBalance:
    line_no: int
    captured_minor: int
    refunded_minor: int
    requested_minor: int

    @property
    def refundable_minor(self) -> int:
        return max(0, self.captured_minor - self.refunded_minor - self.requested_minor)


def balances(lines: Sequence[PaymentLine], refunds: Sequence[Refund]) -> list[LineBalance]:
    def total(line_no: int, status: RefundStatus) -> int:
        return sum(r.on_line(line_no) for r in refunds if r.status is status)

    return [
        LineBalance(
            line.line_no,
            line.captured_minor,
            total(line.line_no, RefundStatus.REFUNDED),
            total(line.line_no, RefundStatus.REFUND_REQUESTED),
        )
        for line in lines
    ]


def plan_refund(
    lines: Sequence[LineBalance],
    refundable_total: int,
    asked: Sequence[tuple[int, int]] | None,
) -> tuple[RefundLine, ...]:
    """The lines a refund takes back: `asked` as (line_no, amount_minor) pairs, or, when None,
    all that is refundable on every line. Refuses what would exceed a line's refundable amount or
    `refundable_total` (the payment's captured total less what is refunded or asked back); each
    refusal names the request's field at fault (`lines.<i>.…` is the i-th pair asked)."""
    if asked is None:
        plan = [RefundLine(line_no=b.line_no, amount_minor=b.refundable_minor) for b in lines]
        plan = [x for x in plan if x.amount_minor > 0]
        if not plan:
            raise RefundExceedsCaptured("Nothing captured on this payment is left to refund")
    else:
        plan = [_checked(lines, i, line_no, amount) for i, (line_no, amount) in enumerate(asked)]
        numbers = [x.line_no for x in plan]
        if not plan or len(set(numbers)) != len(numbers):
            raise InvalidRefund(
                "A refund names each line it refunds once, and at least one", field="lines"
            )
    amount = sum(x.amount_minor for x in plan)
    if amount > refundable_total:
        raise RefundExceedsCaptured(
            f"The refund asks for {amount} but only {max(refundable_total, 0)} of the payment "
            "is captured and not yet refunded or asked back",
            field="body" if asked is None else "lines",
        )
    return tuple(sorted(plan, key=lambda x: x.line_no))


def _checked(lines: Sequence[LineBalance], i: int, line_no: int, amount: int) -> RefundLine:
    if amount <= 0:
        raise InvalidRefund(
            f"Line {line_no}: a refund amount must be positive", field=f"lines.{i}.amount_minor"
        )
    line = next((b for b in lines if b.line_no == line_no), None)
    if line is None:
        raise UnknownLine(
            f"The payment has no line {line_no}; its lines are {[b.line_no for b in lines]}",
            field=f"lines.{i}.line_no",
        )
    if amount > line.refundable_minor:
        raise RefundExceedsCaptured(
            f"Line {line_no}: asks for {amount}, but {line.refundable_minor} is refundable "
            f"({line.captured_minor} captured, {line.refunded_minor} refunded, "
            f"{line.requested_minor} asked back by refunds still open)",
            field=f"lines.{i}.amount_minor",
        )
    return RefundLine(line_no=line_no, amount_minor=amount)
