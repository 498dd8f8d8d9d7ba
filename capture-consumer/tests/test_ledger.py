"""The seller ledger: entries balance by construction, and the database refuses whatever would
unbalance it, change it, or post the same capture twice."""

from __future__ import annotations

from typing import TYPE_CHECKING

import hypothesis.strategies as st
import pytest
from capture_delivery import deliver
from capture_random_events import order_confirmed
from hypothesis import given
from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError

from capture.adapters.orm import journal_entries, postings
from capture.domain.errors import UnbalancedEntry
from capture.domain.ledger import (
    PSP_RECEIVABLE,
    EntryKind,
    JournalEntry,
    Posting,
    capture_entry,
    refund_entry,
)
from capture.domain.payment_order import payment_order_id_for

if TYPE_CHECKING:
    from sqlalchemy import Table

    from capture.bootstrap import CaptureService


@given(amount=st.integers(1, 10**12), seller=st.text(min_size=1, max_size=20))
def test_capture_and_refund_entries_balance_and_mirror_each_other(amount: int, seller: str) -> None:
    captured = capture_entry(
        payment_id="p", payment_order_id="po", seller_id=seller, currency="EUR", amount_minor=amount
    )
    refunded = refund_entry(
        payment_id="p",
        payment_order_id="po",
        refund_id="r",
        line_no=0,
        seller_id=seller,
        currency="EUR",
        amount_minor=amount,
    )
    for entry in (captured, refunded):
        assert sum(p.amount_minor for p in entry.postings) == 0
    as_map = {p.account: p.amount_minor for p in captured.postings}
    assert {p.account: -p.amount_minor for p in refunded.postings} == as_map
    assert as_map[PSP_RECEIVABLE] == -amount


@given(amounts=st.lists(st.integers(-1000, 1000), min_size=0, max_size=5))
def test_an_entry_is_refused_unless_its_postings_sum_to_zero(amounts: list[int]) -> None:
    postings_ = tuple(Posting(f"a{i}", a) for i, a in enumerate(amounts))
    balanced = len(amounts) >= 2 and 0 not in amounts and sum(amounts) == 0
    try:
        JournalEntry("e", EntryKind.CAPTURE, "p", "po", None, "EUR", postings_)
    except UnbalancedEntry:
        assert not balanced
    else:
        assert balanced


def captured_entry_id(service: CaptureService) -> str:
    event = order_confirmed((700,))
    deliver(service, event)
    return f"capture:{payment_order_id_for(event.payment_id, 0)}"


@pytest.mark.integration
def test_the_database_refuses_a_commit_that_leaves_an_entry_unbalanced(
    service: CaptureService,
) -> None:
    entry_id = captured_entry_id(service)
    with (
        pytest.raises(IntegrityError, match="does not balance"),
        service.wiring.engine.begin() as c,
    ):
        c.execute(insert(postings).values(entry_id=entry_id, account="seller:x", amount_minor=5))


@pytest.mark.integration
@pytest.mark.parametrize("table", [journal_entries, postings], ids=lambda t: t.name)
def test_the_journal_is_append_only(service: CaptureService, table: Table) -> None:
    captured_entry_id(service)
    for change in (update(table).values(entry_id="x"), delete(table)):
        with pytest.raises(IntegrityError, match="append-only"):
            with service.wiring.engine.begin() as conn:
                conn.execute(change)


@pytest.mark.integration
def test_a_capture_is_posted_once_whatever_code_posts_it(service: CaptureService) -> None:
    entry_id = captured_entry_id(service)
    with pytest.raises(IntegrityError), service.wiring.engine.begin() as c:
        c.execute(
            insert(journal_entries).values(
                entry_id=entry_id,
                kind="capture",
                payment_id="p",
                payment_order_id="po",
                currency="EUR",
            )
        )
