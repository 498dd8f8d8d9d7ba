"""Properties of the payment's status machine and its refunds, for any arrival order of events,
duplicates included, checked against a simulated world (billing, orders, capture and the
provider's money) that produced them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bff_events import (
    accepted,
    capture_failed,
    captured_lines,
    confirmed,
    declined,
    order_failed,
    refund_failed,
    refunded,
    succeeded,
    voided,
)
from hypothesis import event as note
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from bff.domain.errors import (
    InvalidRefund,
    PaymentNotRefundable,
    RefundExceedsCaptured,
    UnknownLine,
)
from bff.domain.refund import RefundStatus
from bff.domain.status import RANK, TERMINAL, PaymentStatus, advance
from payment_events.events import (
    CaptureFailed,
    Event,
    OrderConfirmed,
    OrderFailed,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefunded,
    PaymentSucceeded,
    PaymentVoided,
    RefundFailed,
    RefundLine,
    RefundRequested,
)

if TYPE_CHECKING:
    from bff.domain.payment import Payment

S = PaymentStatus
CAPTURED_STATES = {S.CAPTURED, S.PARTIALLY_CAPTURED}
# The spec: where the status may go from each status. Events overtake each other, so steps of
# the happy path may be skipped; refund statuses come only after a capture; terminal absorbs.
ALLOWED: dict[PaymentStatus, set[PaymentStatus]] = {
    S.PROCESSING: {S.AUTHORIZED, S.ORDER_CONFIRMED, *CAPTURED_STATES, S.DECLINED, S.FAILED},
    S.AUTHORIZED: {S.ORDER_CONFIRMED, *CAPTURED_STATES, S.FAILED},
    S.ORDER_CONFIRMED: {*CAPTURED_STATES, S.FAILED},
    S.CAPTURED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.PARTIALLY_CAPTURED: {S.PARTIALLY_REFUNDED, S.REFUNDED},
    S.PARTIALLY_REFUNDED: {S.REFUNDED},
    S.DECLINED: set(),
    S.FAILED: set(),
    S.REFUNDED: set(),
}
REFUSALS = (PaymentNotRefundable, RefundExceedsCaptured, UnknownLine, InvalidRefund)


def apply(payment: Payment, event: Event) -> None:
    """What the projector's handler for the event does to the payment."""
    if isinstance(event, PaymentSucceeded):
        payment.record_authorization(event)
    elif isinstance(event, PaymentFailed):
        payment.record_decline(event)
    elif isinstance(event, OrderConfirmed):
        payment.record_order_confirmation(event)
    elif isinstance(event, OrderFailed):
        payment.record_order_failure(event)
    elif isinstance(event, PaymentVoided):
        payment.record_void(event)
    elif isinstance(event, PaymentCaptured):
        payment.record_capture(event)
    elif isinstance(event, CaptureFailed):
        payment.record_capture_failure(event)
    elif isinstance(event, PaymentRefunded):
        payment.record_refund(event)
    elif isinstance(event, RefundFailed):
        payment.record_refund_failure(event)
    else:
        raise AssertionError(f"the BFF consumes no {type(event).__name__}")


@dataclass
class World:
    """The truth the other services hold: what was captured and refunded, per seller line."""

    payment_id: str
    amounts: list[int]
    authorized: bool
    order_confirmed: bool
    captured: dict[int, int]
    refunded: dict[int, int] = field(default_factory=dict)
    open_refunds: dict[str, RefundRequested] = field(default_factory=dict)
    outcomes: dict[str, RefundStatus] = field(default_factory=dict)
    paid_back: dict[str, tuple[RefundLine, ...]] = field(default_factory=dict)  # by refund id

    @classmethod
    def of(
        cls,
        payment: Payment,
        authorized: bool,
        order_confirmed: bool,
        captures: list[bool],
    ) -> World:
        amounts = [x.amount_minor for x in payment.lines]
        # Capture comes only after the order was confirmed, which needs an authorization.
        taken = authorized and order_confirmed
        return cls(
            payment_id=payment.payment_id,
            amounts=amounts,
            authorized=authorized,
            order_confirmed=order_confirmed,
            captured={n: a for n, a in enumerate(amounts) if taken and captures[n]},
        )

    def story(self) -> list[Event]:
        """The events of the payment up to its capture, in the order they happened."""
        pid = self.payment_id
        if not self.authorized:
            return [declined(pid)]
        if not self.order_confirmed:
            return [succeeded(pid), order_failed(pid), voided(pid)]
        events: list[Event] = [succeeded(pid, amount=sum(self.amounts)), confirmed(pid)]
        failed = [n for n in range(len(self.amounts)) if n not in self.captured]
        events += [capture_failed(pid, line_no=n, amount=self.amounts[n]) for n in failed]
        if self.captured:
            events.append(captured_lines(pid, self.captured, partial=bool(failed)))
        return events

    def held(self, line_no: int) -> int:
        asked = [x for r in self.open_refunds.values() for x in r.lines]
        return sum(x.amount_minor for x in asked if x.line_no == line_no)

    def refundable(self, line_no: int) -> int:
        return self.captured.get(line_no, 0) - self.refunded.get(line_no, 0) - self.held(line_no)

    def final_status(self) -> PaymentStatus:
        if not self.authorized:
            return S.DECLINED
        if not self.order_confirmed or not self.captured:
            return S.FAILED
        total_refunded = sum(self.refunded.values())
        if total_refunded:
            fully = total_refunded == sum(self.captured.values())
            return S.REFUNDED if fully else S.PARTIALLY_REFUNDED
        return S.CAPTURED if len(self.captured) == len(self.amounts) else S.PARTIALLY_CAPTURED


# Mostly the happy path, where refunds happen; the sad ones are short.
OUTCOMES = ["captured", "captured", "captured", "declined", "order_failed"]


@st.composite
def payments_in_worlds(draw: st.DrawFn) -> tuple[Payment, World]:
    """A new payment and the truth of what happens to it elsewhere."""
    amounts = draw(st.lists(st.integers(1, 10_000), min_size=1, max_size=4))
    outcome = draw(st.sampled_from(OUTCOMES))
    line_captured = st.sampled_from([True, True, False])
    captures = draw(st.lists(line_captured, min_size=len(amounts), max_size=len(amounts)))
    payment = accepted([(f"seller_{n}", a) for n, a in enumerate(amounts)])
    return payment, World.of(payment, outcome != "declined", outcome == "captured", captures)


def refund_asks(amounts: list[int]) -> st.SearchStrategy[list[tuple[int, int]] | None]:
    """All that is left (None), lines a shop would name, or nonsense."""
    fair = st.tuples(st.integers(0, len(amounts) - 1), st.integers(1, max(amounts)))
    odd = st.tuples(st.integers(-1, len(amounts)), st.integers(-5, 10_000))
    return st.none() | st.lists(fair, min_size=1, max_size=3) | st.lists(odd, max_size=4)


class PaymentLifecycle(RuleBasedStateMachine):
    """One payment: its events delivered in any order and any number of times, refunds asked
    for whenever the shop likes, and the provider paying them back or refusing them."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[Event] = []
        self.status = S.PROCESSING

    @initialize(story=payments_in_worlds())
    def accept(self, story: tuple[Payment, World]) -> None:
        self.payment, self.world = story
        self.published = self.world.story()

    @rule(data=st.data())
    def an_event_arrives(self, data: st.DataObject) -> None:
        # Any published event, again and again if drawn so: redelivery and reordering.
        apply(self.payment, data.draw(st.sampled_from(self.published)))

    @rule(data=st.data())
    def the_shop_asks_for_a_refund(self, data: st.DataObject) -> None:
        asked = data.draw(refund_asks(self.world.amounts))
        self.payment.events.clear()
        try:
            refund = self.payment.request_refund(refund_id=str(uuid.uuid4()), lines=asked)
        except REFUSALS as refused:
            note(f"refund refused: {refused.code}")
            assert self.payment.events == []
            return
        note("refund accepted")
        [requested] = self.payment.events
        assert isinstance(requested, RefundRequested)
        assert requested.amount_minor == refund.amount_minor > 0
        for line in requested.lines:
            # Against the truth, not the BFF's view: a request never asks more than is left.
            assert 0 < line.amount_minor <= self.world.refundable(line.line_no)
        self.world.open_refunds[refund.refund_id] = requested

    @precondition(lambda self: bool(self.world.open_refunds))
    @rule(data=st.data())
    def the_provider_settles_a_refund(self, data: st.DataObject) -> None:
        """As capture-consumer does: the provider pays back or refuses each line on its own;
        every line refused is RefundFailed, otherwise PaymentRefunded lists what went back."""
        # In the order they were asked for: their ids are random, and an order by id would draw
        # another refund for the same choices when Hypothesis replays a case (a flaky draw).
        refund_id = data.draw(st.sampled_from(list(self.world.open_refunds)))
        requested = self.world.open_refunds.pop(refund_id)
        pid = self.world.payment_id
        numbers = [x.line_no for x in requested.lines]
        refused = data.draw(st.just(set()) | st.sets(st.sampled_from(numbers)), label="refused")
        paid_back = tuple(x for x in requested.lines if x.line_no not in refused)
        if not paid_back:
            self.world.outcomes[refund_id] = RefundStatus.REFUND_FAILED
            self.published.append(refund_failed(pid, refund_id, requested.amount_minor))
            return
        note(f"refund paid back: {len(paid_back)} of {len(requested.lines)} lines")
        for line in paid_back:
            self.world.refunded[line.line_no] = (
                self.world.refunded.get(line.line_no, 0) + line.amount_minor
            )
        self.world.outcomes[refund_id] = RefundStatus.REFUNDED
        self.world.paid_back[refund_id] = paid_back
        self.published.append(
            refunded(
                pid,
                refund_id,
                {x.line_no: x.amount_minor for x in paid_back},
                refunded_minor=sum(self.world.refunded.values()),
                captured_minor=sum(self.world.captured.values()),
            )
        )

    @rule()
    def everything_published_arrives(self) -> None:
        for event in list(self.published):
            apply(self.payment, event)
            self.moved_along_an_allowed_transition()
        assert self.payment.status is self.world.final_status()
        note(f"all arrived: {self.payment.status}")
        assert self.payment.refunded_minor == sum(self.world.refunded.values())
        for refund in self.payment.refunds:
            expected = self.world.outcomes.get(refund.refund_id, RefundStatus.REFUND_REQUESTED)
            assert refund.status is expected
            if expected is RefundStatus.REFUNDED:  # what went back, not what was asked
                assert refund.lines == self.world.paid_back[refund.refund_id]
                assert refund.amount_minor == sum(x.amount_minor for x in refund.lines)
        for balance in self.payment.line_balances():
            assert balance.refunded_minor == self.world.refunded.get(balance.line_no, 0)
        truth = sum(max(0, self.world.refundable(n)) for n in range(len(self.world.amounts)))
        assert self.payment.refundable_minor == truth

    @invariant()
    def moved_along_an_allowed_transition(self) -> None:
        before, self.status = self.status, self.payment.status
        assert self.status is before or self.status in ALLOWED[before]

    @invariant()
    def never_more_refunded_than_captured(self) -> None:
        payment = self.payment
        assert 0 <= payment.refunded_minor <= payment.captured_minor
        for balance in payment.line_balances():
            assert balance.refunded_minor + balance.requested_minor <= balance.captured_minor

    @invariant()
    def the_bff_never_sees_more_refundable_than_there_is(self) -> None:
        # Its view may lag (a capture not heard of yet, a failure not heard of yet), but only
        # towards less: it never lets a shop ask back money that is not there.
        for balance in self.payment.line_balances():
            assert balance.refundable_minor <= max(0, self.world.refundable(balance.line_no))


PaymentLifecycle.TestCase.settings = settings(
    max_examples=150, stateful_step_count=30, deadline=None
)
test_a_payment_lifecycle_keeps_its_invariants = PaymentLifecycle.TestCase


@settings(max_examples=200, deadline=None)
@given(data=st.data(), story=payments_in_worlds())
def test_the_status_ends_the_same_whatever_the_arrival_order_and_repeats(
    data: st.DataObject, story: tuple[Payment, World]
) -> None:
    payment, world = story
    story = world.story()
    repeats = data.draw(st.lists(st.sampled_from(story), max_size=len(story)))
    arrivals = data.draw(st.permutations(story + repeats))

    for event in arrivals:
        apply(payment, event)

    assert payment.status is world.final_status()
    assert payment.captured_minor == sum(world.captured.values())
    assert sorted(h.at for h in payment.history) == [h.at for h in payment.history]


statuses = st.sampled_from(list(PaymentStatus))


@given(current=statuses, signalled=st.none() | statuses)
def test_advance_never_leaves_a_terminal_status_nor_moves_back(
    current: PaymentStatus, signalled: PaymentStatus | None
) -> None:
    after = advance(current, signalled)

    assert after in {current, signalled}
    assert RANK[after] >= RANK[current]
    if current in TERMINAL:
        assert after is current
