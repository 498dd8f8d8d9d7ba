"""The provider's ledger after the synchronous flow: was every completed checkout authorized once
and captured once per seller line, and what did the failed ones leave behind?

(The asynchronous flow gets the full audit of `payctl.audit`; the baseline has no events or
read model to audit, only the provider's operations.)
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

import psycopg

from payctl.baseline.checkout import payment_id_for

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from payctl.bench.openloop import Sent


def audit_sync_ledger(
    psp_database_url: str, sent: Sequence[Sent], lines_of: Mapping[str, int]
) -> dict[str, Any]:
    """`lines_of` maps an Idempotency-Key to the number of seller lines its payment has."""
    completed = {
        payment_id_for(s.key): lines_of[s.key] for s in sent if s.body is not None and not s.error
    }
    every = [payment_id_for(s.key) for s in sent]
    ops: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
    with psycopg.connect(psp_database_url, options="-c default_transaction_read_only=on") as conn:
        for reference, kind, status, count in conn.execute(
            # Captures and voids name the authorization they act on; an authorization names
            # itself, and its reference is the payment id.
            "SELECT a.reference, o.kind, o.status, count(*)"
            " FROM operations a JOIN operations o ON o.authorization_id = a.id"
            " WHERE a.kind = 'authorization' AND a.reference = ANY(%s)"
            " GROUP BY a.reference, o.kind, o.status",
            (every,),
        ):
            ops[reference][(kind, status)] += count
    violations: list[str] = []
    for payment_id, lines in completed.items():
        done = ops.get(payment_id, Counter())
        authorizations = sum(n for (kind, _), n in done.items() if kind == "authorization")
        captures = done[("capture", "succeeded")]
        if authorizations != 1:
            violations.append(f"{payment_id}: {authorizations} authorizations")
        if captures != lines:
            violations.append(f"{payment_id}: {captures} captures for {lines} lines")
    # Failed checkouts the provider authorized and nothing captured or voided: money held for a
    # shopper who was told the payment failed.
    held = [
        ref
        for ref, done in ops.items()
        if ref not in completed
        and done[("authorization", "authorized")]
        and not any(kind in ("capture", "void") for kind, _ in done)
    ]
    return {
        "exactly_once": not violations,
        "payments_audited": len(completed),
        "violations": violations[:20],
        "held_without_capture": len(held),
    }
