"""Property-based: random sequences of captures, failures, unknown outcomes and refunds on one
payment, with the design's invariants checked after every step. A step the payment refuses
must change nothing; a step it takes must be a move the design allows; settled states absorb;
money never appears: captured <= authorized, refunded <= captured (per line and per payment),
and the journal always balances and matches the sums."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING, Any

import hypothesis.strategies as st
from capture_random_events import order_confirmed
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from capture.domain.errors import RefundRefused
from capture.domain.ledger import PSP_RECEIVABLE, seller_account
from capture.domain.model import Payment
from capture.domain.payment_order import PaymentOrder, payment_order_id_for
from capture.domain.states import (
    ORDER_ALLOWED,
    PAYMENT_ALLOWED,
    REFUND_ALLOWED,
    SELLER_REFUND_ALLOWED,
    PaymentOrderStatus,
    PaymentStatus,
)
from paykit.errors import ImpossibleEvent
from payment_events.events import PaymentCaptured, PaymentRefunded, RefundLine, RefundRequested

if TYPE_CHECKING:
    from capture.domain.refund import Refund

LINE_NOS = st.integers(0, 3)  # a payment has 1-3 lines: some picks are lines it does not have
AMOUNTS = st.integers(-5, 3000)  # includes amounts no line could ever take


def snapshot(payment: Payment) -> tuple[Any, ...]:
    return (
        payment.status,
        payment.captured_minor,
        payment.refunded_minor,
        tuple((o.status, o.capture_id, o.refunded_minor) for o in payment.orders),
        tuple(
            (r.refund_id, r.status, tuple((x.status, x.provider_refund_id) for x in r.lines))
            for r in payment.refunds
        ),
        len(payment.events),
        len(payment.journal),
    )


def assert_allowed(allowed: dict[Any, frozenset[Any]], before: Any, after: Any) -> None:
    assert after == before or after in allowed[before], f"{before} -> {after}"


class PaymentLifecycle(RuleBasedStateMachine):
    payment: Payment

    @initialize(
        amounts=st.lists(st.integers(1, 2000), min_size=1, max_size=3),
        headroom=st.integers(-500, 500),
    )
    def confirm(self, amounts: list[int], headroom: int) -> None:
        # Built by hand, not split: the authorization may be short of the lines, so the capture
        # itself must refuse what split() would have refused up front.
        confirmed = order_confirmed(tuple(amounts))
        pid = confirmed.payment_id
        self.payment = Payment(
            payment_id=pid,
            order_id=confirmed.order_id,
            currency="EUR",
            authorization_id=confirmed.authorization_id,
            authorized_minor=max(1, sum(amounts) + headroom),
            orders=[
                PaymentOrder(payment_order_id_for(pid, n), pid, n, f"seller_{n % 2}", amount)
                for n, amount in enumerate(amounts)
            ],
        )

    def step(self, change: Any, *args: Any) -> None:
        before = snapshot(self.payment)
        orders_before = [o.status for o in self.payment.orders]
        refunds_before = {
            r.refund_id: (r.status, [x.status for x in r.lines]) for r in self.payment.refunds
        }
        try:
            change(*args)
        except ImpossibleEvent:
            assert snapshot(self.payment) == before, "a refused step changed the payment"
            return
        assert_allowed(PAYMENT_ALLOWED, before[0], self.payment.status)
        for was, order in zip(orders_before, self.payment.orders, strict=True):
            assert_allowed(ORDER_ALLOWED, was, order.status)
        for refund in self.payment.refunds:
            if refund.refund_id in refunds_before:
                was_refund, was_lines = refunds_before[refund.refund_id]
                assert_allowed(REFUND_ALLOWED, was_refund, refund.status)
                for was_line, line in zip(was_lines, refund.lines, strict=True):
                    assert_allowed(SELLER_REFUND_ALLOWED, was_line, line.status)

    # Captures -----------------------------------------------------------------------------------

    @rule(line_no=LINE_NOS)
    def capture(self, line_no: int) -> None:
        self.step(self.payment.capture_line, line_no, f"cap_{uuid.uuid4().hex[:8]}")

    @rule(line_no=LINE_NOS)
    def answer_lost(self, line_no: int) -> None:
        self.step(self.payment.pend_line, line_no)

    @rule(line_no=LINE_NOS)
    def refused(self, line_no: int) -> None:
        self.step(self.payment.fail_line, line_no, "authorization_not_capturable", "refused")

    @rule()
    def provider_captures_the_rest(self) -> None:
        # Steers runs towards settled payments, where refunds begin.
        for order in self.payment.lines_to_settle():
            self.step(self.payment.capture_line, order.line_no, f"cap_{order.line_no}")

    # Refunds ------------------------------------------------------------------------------------

    @rule(
        amounts=st.dictionaries(LINE_NOS, AMOUNTS, max_size=3),
        reuse_id=st.booleans(),
        record_refusal=st.booleans(),
    )
    def request_refund(self, amounts: dict[int, int], reuse_id: bool, record_refusal: bool) -> None:
        known = [r.refund_id for r in self.payment.refunds]
        requested = RefundRequested(
            payment_id=self.payment.payment_id,
            refund_id=known[0] if reuse_id and known else str(uuid.uuid4()),
            currency="EUR",
            amount_minor=sum(amounts.values()),
            lines=tuple(RefundLine(line_no=n, amount_minor=a) for n, a in amounts.items()),
        )

        def request() -> None:
            try:
                self.payment.request_refund(requested)
            except RefundRefused as e:
                if not record_refusal:
                    raise
                self.payment.refuse_refund(requested, e)

        self.step(request)

    @rule(data=st.data(), overshoot=st.booleans())
    def request_a_refund_near_what_is_left(self, data: st.DataObject, overshoot: bool) -> None:
        # Random amounts rarely fit; these are drawn from what each captured line has left,
        # refunds in flight included, or overshoot it by one.
        left = {
            o.line_no: o.captured_minor - o.refunded_minor - self.payment.refunding_minor(o.line_no)
            for o in self.payment.orders
        }
        lines = data.draw(st.lists(st.sampled_from(sorted(left)), min_size=1, unique=True))
        amounts = {n: data.draw(st.integers(1, max(1, left[n]))) for n in lines}
        if overshoot:
            amounts[lines[0]] = left[lines[0]] + 1
        self.request_refund(amounts, reuse_id=False, record_refusal=True)

    @rule(pick=st.integers(0, 50))
    def provider_refunds_every_open_line(self, pick: int) -> None:
        if not self.payment.refunds:
            return
        refund = self.payment.refunds[pick % len(self.payment.refunds)]
        for line in refund.open_lines():
            self.step(self.payment.refund_line, refund.refund_id, line.line_no, f"re_{pick}")

    @rule(pick=st.integers(0, 50), line_no=LINE_NOS, outcome=st.sampled_from("rpf"))
    def provider_answers_refund(self, pick: int, line_no: int, outcome: str) -> None:
        if not self.payment.refunds:
            return
        refund = self.payment.refunds[pick % len(self.payment.refunds)]
        if outcome == "r":
            self.step(self.payment.refund_line, refund.refund_id, line_no, f"re_{pick}")
        elif outcome == "p":
            self.step(self.payment.pend_refund_line, refund.refund_id, line_no)
        else:
            self.step(self.payment.fail_refund_line, refund.refund_id, line_no, "no", "refused")

    # Invariants ---------------------------------------------------------------------------------

    @invariant()
    def captured_within_authorized(self) -> None:
        p = self.payment
        assert p.captured_minor == sum(o.captured_minor for o in p.orders) <= p.authorized_minor

    @invariant()
    def refunded_within_captured(self) -> None:
        p = self.payment
        assert p.refunded_minor == sum(o.refunded_minor for o in p.orders) <= p.captured_minor
        for o in p.orders:
            assert 0 <= o.refunded_minor + p.refunding_minor(o.line_no) <= o.captured_minor
            confirmed = sum(
                x.amount_minor
                for r in p.refunds
                for x in r.refunded_lines()
                if x.line_no == o.line_no
            )
            assert o.refunded_minor == confirmed

    @invariant()
    def statuses_agree_with_the_lines(self) -> None:
        p = self.payment
        captured = [o for o in p.orders if o.status is PaymentOrderStatus.CAPTURED]
        if p.lines_to_settle():
            assert p.status is PaymentStatus.CAPTURE_PENDING
        elif not captured:
            assert p.status is PaymentStatus.CAPTURE_FAILED
        elif p.refunded_minor == 0:
            every_line = len(captured) == len(p.orders)
            assert p.status is (
                PaymentStatus.CAPTURED if every_line else PaymentStatus.PARTIALLY_CAPTURED
            )
        elif p.refunded_minor == p.captured_minor:
            assert p.status is PaymentStatus.REFUNDED
        else:
            assert p.status is PaymentStatus.PARTIALLY_REFUNDED
        for refund in p.refunds:
            assert refund.is_settled == (not refund.open_lines() and refund_settled(refund))

    @invariant()
    def each_fact_is_announced_once(self) -> None:
        kinds = Counter(type(e) for e in self.payment.events)
        settled_with_money = not self.payment.lines_to_settle() and self.payment.captured_minor
        assert kinds[PaymentCaptured] == (1 if settled_with_money else 0)
        refunded = [r for r in self.payment.refunds if r.refunded_lines()]
        assert kinds[PaymentRefunded] == len([r for r in refunded if r.is_settled])

    @invariant()
    def the_journal_balances_and_matches_the_sums(self) -> None:
        p = self.payment
        assert len({e.entry_id for e in p.journal}) == len(p.journal)
        balances: Counter[str] = Counter()
        for entry in p.journal:
            assert sum(posting.amount_minor for posting in entry.postings) == 0
            for posting in entry.postings:
                balances[posting.account] += posting.amount_minor
        expected: Counter[str] = Counter()
        for o in p.orders:
            expected[seller_account(o.seller_id)] += o.captured_minor - o.refunded_minor
        expected[PSP_RECEIVABLE] = p.refunded_minor - p.captured_minor
        assert {a: v for a, v in balances.items() if v} == {a: v for a, v in expected.items() if v}


def refund_settled(refund: Refund) -> bool:
    # A refund with no lines was refused when requested; one with lines settles with its lines.
    return bool(refund.lines) or refund.failure_code is not None


PaymentLifecycle.TestCase.settings = settings(
    max_examples=300,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_payment_lifecycle = PaymentLifecycle.TestCase
