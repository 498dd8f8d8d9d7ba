"""The seller ledger, double entry: every capture or refund of a seller line is one journal entry
whose postings sum to zero.

Amounts are signed, credit positive and debit negative, so an account's balance is the plain sum
of its postings and a seller's balance is positive while the platform owes the seller money.

| account | kind | capture of line L | refund of line L |
|---|---|---|---|
| `psp_receivable` | asset: money the provider collected for the platform | debit (-) | credit (+) |
| `seller:<seller_id>` | liability: what the platform owes the seller | credit (+) | debit (-) |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from capture.domain.errors import UnbalancedEntry

PSP_RECEIVABLE = "psp_receivable"
SELLER_PREFIX = "seller:"


def seller_account(seller_id: str) -> str:
    return f"{SELLER_PREFIX}{seller_id}"


class EntryKind(StrEnum):
    CAPTURE = "capture"
    REFUND = "refund"


@dataclass(frozen=True)
class Posting:
    account: str
    amount_minor: int  # credit > 0, debit < 0


@dataclass(frozen=True)
class JournalEntry:
    """One movement of money, recorded once: its id is derived from the capture or refund line,
    so the database refuses a second entry for the same line."""

    entry_id: str
    kind: EntryKind
    payment_id: str
    payment_order_id: str
    refund_id: str | None
    currency: str
    postings: tuple[Posting, ...]

    def __post_init__(self) -> None:
        if len(self.postings) < 2 or any(p.amount_minor == 0 for p in self.postings):
            raise UnbalancedEntry(f"journal entry {self.entry_id}: {self.postings}")
        if sum(p.amount_minor for p in self.postings) != 0:
            raise UnbalancedEntry(f"journal entry {self.entry_id} does not sum to zero")


def capture_entry(
    *, payment_id: str, payment_order_id: str, seller_id: str, currency: str, amount_minor: int
) -> JournalEntry:
    return JournalEntry(
        entry_id=f"capture:{payment_order_id}",
        kind=EntryKind.CAPTURE,
        payment_id=payment_id,
        payment_order_id=payment_order_id,
        refund_id=None,
        currency=currency,
        postings=(
            Posting(PSP_RECEIVABLE, -amount_minor),
            Posting(seller_account(seller_id), amount_minor),
        ),
    )


def refund_entry(
    *,
    payment_id: str,
    payment_order_id: str,
    refund_id: str,
    line_no: int,
    seller_id: str,
    currency: str,
    amount_minor: int,
) -> JournalEntry:
    return JournalEntry(
        entry_id=f"refund:{refund_id}:{line_no}",
        kind=EntryKind.REFUND,
        payment_id=payment_id,
        payment_order_id=payment_order_id,
        refund_id=refund_id,
        currency=currency,
        postings=(
            Posting(seller_account(seller_id), -amount_minor),
            Posting(PSP_RECEIVABLE, amount_minor),
        ),
    )
