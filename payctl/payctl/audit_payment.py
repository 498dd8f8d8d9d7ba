"""One payment's story held against what its BFF status means (`payctl.audit_rules`): still in
flight, it is named with where it stopped; settled, the provider's ledger, its events on the
topics and the services' own tables must bear the status out. Each disagreement is a
`Violation`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from payctl.audit_rules import CAPTURED, IN_FLIGHT, SETTLED

if TYPE_CHECKING:
    from datetime import datetime, timedelta

    from payctl.audit_records import Records, Row
    from payctl.audit_rules import Settled


@dataclass(frozen=True)
class Violation:
    check: str  # settled, outcome, lost, unrequested, provider, events, agreement, dead_letter
    payment_id: str | None
    detail: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.payment_id or '-'}: {self.detail}"


@dataclass
class View:
    """The records, and the provider's ledger indexed the two ways the checks look it up."""

    records: Records
    authorizations: dict[str, list[Row]] = field(init=False)  # by payment id
    on_authorization: dict[str, list[Row]] = field(init=False)  # by authorization id

    def __post_init__(self) -> None:
        self.authorizations = self.records.authorizations()
        self.on_authorization = self.records.on_authorization()


def check_payment(
    payment_id: str, payment: Row, view: View, now: datetime | None
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


def _check_provider(payment_id: str, payment: Row, rule: Settled, view: View) -> list[Violation]:
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
    if rule.captured_lines == "all or some" and not per_order:
        violation(f"0 of {lines} payment orders captured, expected all or some")
    if rule.captured_lines == "none" and captures:
        violation(f"{len(captures)} captures, expected none")
    captured_minor = sum(op["amount_minor"] or 0 for op in captures)
    if captured_minor != payment["captured_minor"]:
        violation(
            f"captured {captured_minor} at the provider, the BFF shows {payment['captured_minor']}"
        )
    # A refund points at its capture and at the capture's authorization, so this payment's are
    # among the operations on its authorization. Held against the BFF whatever the status: money
    # that went back while the BFF shows none is the worst way for this to disagree.
    refunded_minor = sum(op["amount_minor"] or 0 for op in operations if op["kind"] == "refund")
    if refunded_minor != payment["refunded_minor"]:
        violation(
            f"refunded {refunded_minor} at the provider, the BFF shows {payment['refunded_minor']}"
        )
    if refunded_minor > captured_minor:
        violation(
            f"refunded {refunded_minor} at the provider, more than the {captured_minor} captured"
        )
    voids = sum(op["kind"] == "void" for op in operations)
    if voids != rule.voids:
        violation(f"{voids} voids, expected {rule.voids}")
    return found


def _check_events(payment_id: str, payment: Row, rule: Settled, view: View) -> list[Violation]:
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


def _check_agreement(payment_id: str, payment: Row, rule: Settled, view: View) -> list[Violation]:
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
    if captured and captured["refunded_minor"] != payment["refunded_minor"]:
        disagree(
            f"capture's payment refunded {captured['refunded_minor']}, "
            f"the BFF shows {payment['refunded_minor']}"
        )
    payment_orders = view.records.payment_orders.get(payment_id, [])
    if rule.capture is not None and len(payment_orders) != len(payment["lines"]):
        disagree(f"{len(payment_orders)} payment orders for {len(payment['lines'])} lines")
    if rule.captured_lines == "all" and payment["captured_minor"] != payment["amount_minor"]:
        disagree(f"captured {payment['captured_minor']} of {payment['amount_minor']}")
    refunded, of = payment["refunded_minor"], payment["captured_minor"]
    if not _refunded_as(rule, refunded, of):
        disagree(f"refunded {refunded} of {of} captured, expected {rule.refunded}")
    return found


def _refunded_as(rule: Settled, refunded: int, captured: int) -> bool:
    if rule.refunded == "all":
        return refunded == captured
    if rule.refunded == "some":
        return 0 < refunded < captured
    return refunded == 0


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
