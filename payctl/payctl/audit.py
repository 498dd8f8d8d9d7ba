"""The audit after a run: does every payment's story add up everywhere it is told?

Per payment the BFF holds: its status is settled (`payctl.audit_rules` says what each means);
the provider holds exactly one authorization, at most one capture per payment order, exactly the
voids its outcome calls for and refunds adding up to what the BFF and capture say went back; its
event chain is complete on the topics, each event handled once (a second event id of one type
means a second handling; a republished copy keeps its id and is allowed); and the services' own
tables agree with the BFF. Outside any one payment: no dead letters (but those an operator
re-drove: the payment's own checks judge how that went), nothing undecodable, no provider
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

from payctl.audit_payment import View, Violation, check_payment
from payctl.audit_records import read_records
from payctl.audit_rules import FOLLOWED_UP, IN_FLIGHT

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import timedelta

    from payctl.audit_records import Records, Row
    from payment_events.codec import Codec

__all__ = ["AuditReport", "Violation", "audit", "check"]


@dataclass
class AuditReport:
    payments: int
    statuses: dict[str, int]
    messages: int
    copies: int  # events the relays published more than once (allowed: inboxes absorb them)
    violations: list[Violation] = field(default_factory=list)
    settling: int = 0  # payments within the grace period, still on their way: not judged
    redriven: int = 0  # dead letters an operator re-drove (payctl dlq redrive): not violations

    @property
    def passed(self) -> bool:
        return not self.violations

    @property
    def by_check(self) -> dict[str, int]:
        return dict(sorted(Counter(v.check for v in self.violations).items()))

    def summary(self, limit: int = 20) -> str:
        settling = f" ({self.settling} settling)" if self.settling else ""
        redriven = f", {self.redriven} re-driven dead letters" if self.redriven else ""
        lines = [
            f"{self.payments} payments {dict(sorted(self.statuses.items()))}{settling}, "
            f"{self.messages} messages read ({self.copies} republished copies{redriven}), "
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
        redriven=sum(letter.id in records.redriven for letter in records.scan.dead_letters),
    )
    view = View(records)
    now = records.read_at or datetime.now(UTC)
    v = report.violations
    for payment_id, payment in sorted(records.bff.items()):
        found = check_payment(payment_id, payment, view, now if settle_grace else None)
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


def _settling(payment: Row, now: datetime, grace: timedelta) -> bool:
    young = now - payment["created_at"] < grace
    return young and payment["status"] in IN_FLIGHT | FOLLOWED_UP


def _check_strays(view: View) -> list[Violation]:
    """What names no payment accepted in the window: dead letters not re-driven and undecodable
    messages (the scan keeps those of the window), and events or provider operations of the
    window for a payment the BFF never accepted."""
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
        if letter.id not in records.redriven
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
