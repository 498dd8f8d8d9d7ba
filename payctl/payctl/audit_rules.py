"""The audit's rules: what each settled BFF status means in every other place that tells the
payment's story (the services' tables, the provider's ledger, the topics), and which statuses are
not settled yet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Statuses a payment leaves on its own; every other status of the BFF is settled and needs a
# rule in SETTLED (one without is named as a mismatch, not passed).
IN_FLIGHT = frozenset({"PROCESSING", "AUTHORIZED", "ORDER_CONFIRMED"})
# Settled statuses whose follow-up still runs after the BFF shows them: it shows FAILED on
# OrderFailed while billing voids the authorization at the same time.
FOLLOWED_UP = frozenset({"FAILED"})

INITIATED, SUCCEEDED, FAILED = "PaymentInitiated", "PaymentSucceeded", "PaymentFailed"
CONFIRMED, ORDER_FAILED = "OrderConfirmed", "OrderFailed"
VOIDED, CAPTURED, CAPTURE_FAILED = "PaymentVoided", "PaymentCaptured", "CaptureFailed"
REFUND_REQUESTED, REFUNDED, REFUND_FAILED = "RefundRequested", "PaymentRefunded", "RefundFailed"

# How many of the payment orders the provider captured.
CapturedLines = Literal["none", "all", "some", "all or some"]
# How much of the captured total went back: the BFF's refunded_minor against its captured_minor.
Refunded = Literal["nothing", "all", "some"]

CAPTURED_EVENTS = frozenset({INITIATED, SUCCEEDED, CONFIRMED, CAPTURED})
# A refund asked of a captured payment that failed leaves it captured, so a captured payment
# may carry refunds asked and failed, any number of them.
FAILED_REFUNDS = frozenset({REFUND_REQUESTED, REFUND_FAILED})
# A payment refunded in part may be refunded again, and a refund may fail; its lines may have
# failed to capture (a refund of a partly captured payment).
REFUNDS = frozenset({REFUND_REQUESTED, REFUNDED, REFUND_FAILED, CAPTURE_FAILED})


@dataclass(frozen=True)
class Settled:
    """What one settled BFF status means in every other place."""

    billing: str | None  # billing's authorization status; None: no row
    order: str | None  # orders' order status; None: no order
    capture: str | None  # capture's payment status; None: no row
    authorization: str  # the provider's authorization status
    captured_lines: CapturedLines
    voids: int
    events: frozenset[str]  # each exactly once
    repeatable: frozenset[str] = frozenset()  # zero or more (one per failed line or refund)
    refunded: Refunded = "nothing"


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
        events=CAPTURED_EVENTS,
        repeatable=FAILED_REFUNDS,
    ),
    "PARTIALLY_CAPTURED": Settled(
        billing="AUTHORIZED",
        order="CONFIRMED",
        capture="PARTIALLY_CAPTURED",
        authorization="authorized",
        captured_lines="some",
        voids=0,
        events=CAPTURED_EVENTS,
        repeatable=FAILED_REFUNDS | {CAPTURE_FAILED},
    ),
    # Refunded from a payment captured in full or in part; the provider's refunds, the BFF's and
    # capture's refunded totals are held against each other for every status.
    "PARTIALLY_REFUNDED": Settled(
        billing="AUTHORIZED",
        order="CONFIRMED",
        capture="PARTIALLY_REFUNDED",
        authorization="authorized",
        captured_lines="all or some",
        voids=0,
        events=CAPTURED_EVENTS,
        repeatable=REFUNDS,
        refunded="some",
    ),
    "REFUNDED": Settled(
        billing="AUTHORIZED",
        order="CONFIRMED",
        capture="REFUNDED",
        authorization="authorized",
        captured_lines="all or some",
        voids=0,
        events=CAPTURED_EVENTS,
        repeatable=REFUNDS,
        refunded="all",
    ),
}
