"""The audit after a run: does every payment's story add up everywhere it is told?

Per payment the BFF holds: its status is settled; the provider holds exactly one authorization,
at most one capture per payment order and exactly the voids its outcome calls for; its event
chain is complete on the topics, each event handled once (a second event id of one type means a
second handling; a republished copy keeps its id and is allowed); and the services' own tables
agree with the BFF. Outside any one payment: no dead letters, nothing undecodable, no provider
operation or event for a payment the BFF never accepted. No violations is a pass.

At rest (the tests, `audit`) every payment must be settled. On a live system (`payctl
reconcile`) a payment younger than a grace period may still be on its way: it is counted as
settling, not judged, and judged on a later run.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from payctl.audit_records import read_records

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import timedelta

    from payctl.audit_records import Records, Row
    from payment_events.codec import Codec

# Statuses a payment leaves on its own; every other status of the BFF is settled, so statuses
# added later (refunds) count as settled without a change here.
IN_FLIGHT = frozenset({"PROCESSING", "AUTHORIZED", "ORDER_CONFIRMED"})
# Settled statuses whose follow-up still runs after the BFF shows them: it shows FAILED on
# OrderFailed while billing voids the authorization at the same time.
FOLLOWED_UP = frozenset({"FAILED"})

INITIATED, SUCCEEDED, FAILED = "PaymentInitiated", "PaymentSucceeded", "PaymentFailed"
CONFIRMED, ORDER_FAILED = "OrderConfirmed", "OrderFailed"
VOIDED, CAPTURED, CAPTURE_FAILED = "PaymentVoided", "PaymentCaptured", "CaptureFailed"


@dataclass(frozen=True)
class Settled:
    """What one settled BFF status means in every other place."""

    billing: str | None  # billing's authorization status; None: no row
    order: str | None  # orders' order status; None: no order
    capture: str | None  # capture's payment status; None: no row
    authorization: str  # the provider's authorization status
    captured_lines: str  # "none", "all" or "some" of the payment orders captured
    voids: int
    events: frozenset[str]  # each exactly once
    repeatable: frozenset[str] = frozenset()  # zero or more (one per failed line)


SETTLED: dict[str, Settled] = {
    "DECLINED": Settled(
        billing="DECLINED",
        order=None,
        capture=None,
        authorization="declined",
        captured_lines="none",
        voids=0,
        events=frozenset({INITIATED, FAILED}),
    ),
    # The order was refused: the authorization is voided.
    "FAILED": Settled(
        billing="VOIDED",
        order="REFUSED",
        capture=None,
        authorization="authorized",
        captured_lines="none",
        voids=1,
        events=frozenset({INITIATED, SUCCEEDED, ORDER_FAILED, VOIDED}),
    ),
    "CAPTURED": Settled(
        billing="AUTHORIZED",
        order="CONFIRMED",
        capture="CAPTURED",
        authorization="authorized",
        captured_lines="all",
        voids=0,
        events=frozenset({INITIATED, SUCCEEDED, CONFIRMED, CAPTURED}),
    ),
    "PARTIALLY_CAPTURED": Settled(
        billing="AUTHORIZED",
        order="CONFIRMED",
        capture="PARTIALLY_CAPTURED",
        authorization="authorized",
        captured_lines="some",
        voids=0,
        events=frozenset({INITIATED, SUCCEEDED, CONFIRMED, CAPTURED}),
        repeatable=frozenset({CAPTURE_FAILED}),
    ),
}


@dataclass(frozen=True)
class Violation:
    check: str  # settled, outcome, lost, unrequested, provider, events, agreement, dead_letter
    payment_id: str | None
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.payment_id or '-'}: {self.detail}"


@dataclass
class AuditReport:
    payments: int
    statuses: dict[str, int]
    messages: int
    copies: int  # events the relays published more than once (allowed: inboxes absorb them)
    violations: list[Violation] = field(default_factory=list)
    settling: int = 0  # payments within the grace period, still on their way: not judged

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def by_check(self) -> dict[str, int]:
        return dict(sorted(Counter(v.check for v in self.violations).items()))

    def summary(self, limit: int = 20) -> str:
        settling = f" ({self.settling} settling)" if self.settling else ""
        lines = [
            f"{self.payments} payments {dict(sorted(self.statuses.items()))}{settling}, "
            f"{self.messages} messages read ({self.copies} republished copies), "
            f"{len(self.violations)} violations {self.by_check}"
        ]
        lines += [f"  {v}" for v in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more")
        return "\n".join(lines)


def audit(
    bootstrap: str,
    database_urls: Mapping[str, str],
    codec: Codec,
    expected: Mapping[str, str] | None = None,
) -> AuditReport:
    """Audits every payment the BFF holds (read-only). `expected` (payment id -> the BFF status
    it should end in), when given, also checks each outcome, that no accepted payment is missing
    and that the BFF holds no payment beyond them."""
    return check(read_records(bootstrap, database_urls, codec), expected)


def check(
    records: Records,
    expected: Mapping[str, str] | None = None,
    *,
    settle_grace: timedelta | None = None,
) -> AuditReport:
    """The violations in `records`. With `settle_grace`, a payment accepted less than that
    before `records.read_at` that is in flight, or settled but still followed up, is counted as
    settling rather than judged; without, every payment must be settled (a stack at rest)."""
    report = AuditReport(
        payments=len(records.bff),
        statuses=dict(Counter(p["status"] for p in records.bff.values())),
        messages=records.scan.messages,
        copies=records.scan.copies,
    )
    view = _View(records)
    now = records.read_at or datetime.now(UTC)
    v = report.violations
    for payment_id, payment in sorted(records.bff.items()):
        found = _check_payment(payment_id, payment, view, now if settle_grace else None)
        if found and settle_grace and _settling(payment, now, settle_grace):
            report.settling += 1
            continue
        v += found
        wanted = (expected or {}).get(payment_id)
        if wanted is not None and payment["status"] != wanted:
            v.append(Violation("outcome", payment_id, f"{payment['status']}, expected {wanted}"))
    if expected is not None:
        for payment_id in sorted(set(expected) - set(records.bff)):
            v.append(Violation("lost", payment_id, "accepted with 202 but unknown to the BFF"))
        for payment_id in sorted(set(records.bff) - set(expected)):
            v.append(Violation("unrequested", payment_id, "in the BFF, but no request got it"))
    v += _check_strays(view)
    return report


@dataclass
class _View:
    """The records, and the provider's ledger indexed the two ways the checks look it up."""

    records: Records
    authorizations: dict[str, list[Row]] = field(init=False)  # by payment id
    on_authorization: dict[str, list[Row]] = field(init=False)  # by authorization id

    def __post_init__(self) -> None:
        self.authorizations = self.records.authorizations()
        self.on_authorization = self.records.on_authorization()


# -- one payment -------------------------------------------------------------------------------


def _settling(payment: Row, now: datetime, grace: timedelta) -> bool:
    young = now - payment["created_at"] < grace
    return young and payment["status"] in IN_FLIGHT | FOLLOWED_UP


def _check_payment(
    payment_id: str, payment: Row, view: _View, now: datetime | None
) -> list[Violation]:
    """`now` given: a payment still in flight is named with how long it has been."""
    status = payment["status"]
    if status in IN_FLIGHT:
        since = f" {_age(now - payment['created_at'])} after it was accepted" if now else ""
        where = _where(payment_id, view.records)
        return [Violation("settled", payment_id, f"still {status}{since}; {where}")]
    rule = SETTLED.get(status)
    if rule is None:
        return [Violation("settled", payment_id, f"{status}: no audit rule for this status")]
    found: list[Violation] = []
    found += _check_provider(payment_id, payment, rule, view)
    found += _check_events(payment_id, payment, rule, view)
    found += _check_agreement(payment_id, payment, rule, view)
    return found


def _check_provider(payment_id: str, payment: Row, rule: Settled, view: _View) -> list[Violation]:
    found: list[Violation] = []

    def violation(detail: str) -> None:
        found.append(Violation("provider", payment_id, detail))

    authorizations = view.authorizations.get(payment_id, [])
    if len(authorizations) != 1:
        violation(f"{len(authorizations)} authorizations, expected exactly 1")
        if not authorizations:
            return found
    authorization = authorizations[0]
    if authorization["status"] != rule.authorization:
        violation(f"authorization is {authorization['status']}, expected {rule.authorization}")
    operations = view.on_authorization.get(authorization["id"], [])
    captures = [op for op in operations if op["kind"] == "capture"]
    per_order = Counter(op["reference"] for op in captures)
    for payment_order_id, count in sorted(per_order.items()):
        if count > 1:
            violation(f"payment order {payment_order_id} captured {count} times")
    lines = len(payment["lines"])
    if rule.captured_lines == "all" and len(per_order) != lines:
        violation(f"{len(per_order)} of {lines} payment orders captured, expected all")
    if rule.captured_lines == "some" and not 0 < len(per_order) < lines:
        violation(f"{len(per_order)} of {lines} payment orders captured, expected some")
    if rule.captured_lines == "none" and captures:
        violation(f"{len(captures)} captures, expected none")
    captured_minor = sum(op["amount_minor"] or 0 for op in captures)
    if captured_minor != payment["captured_minor"]:
        violation(
            f"captured {captured_minor} at the provider, the BFF shows {payment['captured_minor']}"
        )
    voids = sum(op["kind"] == "void" for op in operations)
    if voids != rule.voids:
        violation(f"{voids} voids, expected {rule.voids}")
    return found


def _check_events(payment_id: str, payment: Row, rule: Settled, view: _View) -> list[Violation]:
    found: list[Violation] = []
    seen = view.records.scan.events.get(payment_id, {})
    for event_type in sorted(rule.events):
        ids = seen.get(event_type, set())
        if not ids:
            found.append(Violation("events", payment_id, f"no {event_type} on its topic"))
        elif len(ids) > 1:
            found.append(
                Violation(
                    "events",
                    payment_id,
                    f"{event_type} published under {len(ids)} event ids: handled more than once",
                )
            )
    for event_type in sorted(set(seen) - rule.events - rule.repeatable):
        found.append(
            Violation("events", payment_id, f"unexpected {event_type} for {payment['status']}")
        )
    for event in view.records.scan.payloads.get(payment_id, []):
        amount = getattr(event, "amount_minor", None)
        if type(event).__name__ == CAPTURED and amount != payment["captured_minor"]:
            found.append(
                Violation(
                    "events",
                    payment_id,
                    f"{CAPTURED} says {amount}, the BFF shows {payment['captured_minor']}",
                )
            )
    return found


def _check_agreement(payment_id: str, payment: Row, rule: Settled, view: _View) -> list[Violation]:
    found: list[Violation] = []

    def disagree(detail: str) -> None:
        found.append(Violation("agreement", payment_id, f"BFF {payment['status']}, but {detail}"))

    billing = view.records.billing.get(payment_id)
    billing_status = billing["status"] if billing else None
    if billing_status != rule.billing:
        disagree(f"billing's authorization is {billing_status}, expected {rule.billing}")
    order = view.records.orders.get(payment_id)
    order_status = order["status"] if order else None
    if order_status != rule.order:
        disagree(f"orders' order is {order_status}, expected {rule.order}")
    if order and payment["order_id"] and order["order_id"] != payment["order_id"]:
        disagree(f"orders' order is {order['order_id']}, the BFF shows {payment['order_id']}")
    captured = view.records.capture.get(payment_id)
    capture_status = captured["status"] if captured else None
    if capture_status != rule.capture:
        disagree(f"capture's payment is {capture_status}, expected {rule.capture}")
    if captured and captured["captured_minor"] != payment["captured_minor"]:
        disagree(
            f"capture's payment captured {captured['captured_minor']}, "
            f"the BFF shows {payment['captured_minor']}"
        )
    payment_orders = view.records.payment_orders.get(payment_id, [])
    if rule.capture is not None and len(payment_orders) != len(payment["lines"]):
        disagree(f"{len(payment_orders)} payment orders for {len(payment['lines'])} lines")
    if rule.captured_lines == "all" and payment["captured_minor"] != payment["amount_minor"]:
        disagree(f"captured {payment['captured_minor']} of {payment['amount_minor']}")
    return found


def _age(span: timedelta) -> str:
    minutes, seconds = divmod(int(span.total_seconds()), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{seconds:02d}s"


def _where(payment_id: str, records: Records) -> str:
    """Where a payment stopped, as each service sees it."""
    parts = [
        f"billing {(records.billing.get(payment_id) or {}).get('status')}",
        f"orders {(records.orders.get(payment_id) or {}).get('status')}",
        f"capture {(records.capture.get(payment_id) or {}).get('status')}",
        f"events {sorted(records.scan.events.get(payment_id, {}))}",
    ]
    return ", ".join(parts)


# -- outside any one payment -------------------------------------------------------------------


def _check_strays(view: _View) -> list[Violation]:
    """What names no payment accepted in the window: dead letters and undecodable messages (the
    scan keeps those of the window), and events or provider operations of the window for a
    payment the BFF never accepted."""
    records = view.records
    known = set(records.bff) | records.accepted_elsewhere

    def in_window(at: datetime | None) -> bool:
        return at is None or records.window.holds(at)

    found = [
        Violation(
            "dead_letter",
            letter.key,
            f"on {letter.topic}: {letter.headers.get('dlq.error.code')} "
            f"{letter.headers.get('dlq.error.message', '')[:200]}",
        )
        for letter in records.scan.dead_letters
    ]
    found += [Violation("events", None, f"undecodable: {u}") for u in records.scan.undecodable]
    for payment_id in sorted(set(records.scan.events) - known):
        if in_window(records.scan.first_at.get(payment_id)):
            found.append(
                Violation("events", payment_id, "events for a payment the BFF never accepted")
            )
    for payment_id, authorizations in sorted(view.authorizations.items()):
        if payment_id not in known and any(in_window(a.get("created_at")) for a in authorizations):
            found.append(Violation("provider", payment_id, "authorized, unknown to the BFF"))
    authorized = {a["id"] for auths in view.authorizations.values() for a in auths}
    for authorization_id, operations in sorted(view.on_authorization.items()):
        if authorization_id not in authorized and any(
            in_window(op.get("created_at")) for op in operations
        ):
            found.append(
                Violation("provider", None, f"operations on no authorization: {authorization_id}")
            )
    return found
