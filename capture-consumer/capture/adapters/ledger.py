"""The ledger's tables: journal entries written in the transaction of the state change that made
them, and the sums the balances API reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select

from capture.adapters.orm import journal_entries, postings
from capture.domain.ledger import seller_account

if TYPE_CHECKING:
    from datetime import datetime

    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from capture.domain.ledger import JournalEntry

# A balance answer lists at most this many postings, the newest first; the balance itself is
# always the sum of all of them.
POSTINGS_SHOWN = 100


class Ledger:
    def __init__(self, session: Session) -> None:
        self._session = session

    def post(self, *entries: JournalEntry) -> None:
        if not entries:
            return
        self._session.execute(
            insert(journal_entries),
            [
                {
                    "entry_id": e.entry_id,
                    "kind": e.kind.value,
                    "payment_id": e.payment_id,
                    "payment_order_id": e.payment_order_id,
                    "refund_id": e.refund_id,
                    "currency": e.currency,
                }
                for e in entries
            ],
        )
        self._session.execute(
            insert(postings),
            [
                {"entry_id": e.entry_id, "account": p.account, "amount_minor": p.amount_minor}
                for e in entries
                for p in e.postings
            ],
        )


@dataclass(frozen=True)
class PostingLine:
    entry_id: str
    kind: str
    payment_id: str
    payment_order_id: str
    refund_id: str | None
    amount_minor: int
    posted_at: datetime


@dataclass(frozen=True)
class SellerBalance:
    seller_id: str
    currency: str
    balance_minor: int
    postings: list[PostingLine]


@dataclass(frozen=True)
class AccountBalance:
    account: str
    currency: str
    balance_minor: int


def seller_currencies(conn: Connection, seller_id: str) -> list[str]:
    query = (
        select(journal_entries.c.currency)
        .join(postings, postings.c.entry_id == journal_entries.c.entry_id)
        .where(postings.c.account == seller_account(seller_id))
        .distinct()
        .order_by(journal_entries.c.currency)
    )
    return list(conn.execute(query).scalars())


def seller_balance(conn: Connection, seller_id: str, currency: str) -> SellerBalance:
    joined = postings.join(journal_entries, postings.c.entry_id == journal_entries.c.entry_id)
    mine = (postings.c.account == seller_account(seller_id)) & (
        journal_entries.c.currency == currency
    )
    balance = conn.execute(
        select(func.coalesce(func.sum(postings.c.amount_minor), 0)).select_from(joined).where(mine)
    ).scalar_one()
    rows = conn.execute(
        select(
            journal_entries.c.entry_id,
            journal_entries.c.kind,
            journal_entries.c.payment_id,
            journal_entries.c.payment_order_id,
            journal_entries.c.refund_id,
            postings.c.amount_minor,
            journal_entries.c.posted_at,
        )
        .select_from(joined)
        .where(mine)
        .order_by(postings.c.posting_id.desc())
        .limit(POSTINGS_SHOWN)
    ).all()
    return SellerBalance(
        seller_id=seller_id,
        currency=currency,
        balance_minor=int(balance),
        postings=[PostingLine(**row._mapping) for row in rows],
    )


def trial_balance(conn: Connection) -> list[AccountBalance]:
    rows = conn.execute(
        select(
            postings.c.account,
            journal_entries.c.currency,
            func.sum(postings.c.amount_minor).label("balance_minor"),
        )
        .join(journal_entries, postings.c.entry_id == journal_entries.c.entry_id)
        .group_by(postings.c.account, journal_entries.c.currency)
        .order_by(journal_entries.c.currency, postings.c.account)
    ).all()
    return [AccountBalance(r.account, r.currency, int(r.balance_minor)) for r in rows]
