"""What the audit reads, and only reads: the BFF's read model, each service's own tables, the
provider's ledger and the topics, gathered into one `Records` per payment. Either everything, or
for a window of time: the payments the BFF accepted in it with all they caused (whenever), and
whatever else the provider or the topics hold from that window.

The services never read each other's tables; the audit does, as an outside observer, over
read-only sessions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from payctl.ops.redrive import read_ledger
from payctl.ops.target import Target
from payctl.topic_scan import TopicScan, Window, scan_topics

if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime

    from payctl.topic_scan import Watch
    from payment_events.codec import Codec

Row = dict[str, Any]

# The payments of the window; "%(ids)s IS NULL" stands for all of them when it is everything.
_OF_PAYMENTS = "(%(ids)s::text[] IS NULL OR payment_id = ANY(%(ids)s::text[]))"
_IN_WINDOW = (
    "(%(start)s::timestamptz IS NULL OR created_at >= %(start)s::timestamptz)"
    " AND (%(end)s::timestamptz IS NULL OR created_at < %(end)s::timestamptz)"
)


@dataclass
class Records:
    bff: dict[str, Row]  # payment id -> the BFF's payment (accepted in the window)
    billing: dict[str, Row] = field(default_factory=dict)  # -> billing's authorization
    orders: dict[str, Row] = field(default_factory=dict)  # -> orders' order
    capture: dict[str, Row] = field(default_factory=dict)  # -> capture's payment
    payment_orders: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    operations: list[Row] = field(default_factory=list)  # the provider's ledger
    scan: TopicScan = field(default_factory=TopicScan)
    window: Window = field(default_factory=Window)
    # Payments the BFF accepted outside the window that something read for it refers to (an
    # event, a provider operation): not strays, and not judged here.
    accepted_elsewhere: set[str] = field(default_factory=set)
    read_at: datetime | None = None  # the BFF database's clock when its payments were read
    # The ids of the dead letters an operator re-drove (`payctl dlq redrive`'s ledger).
    redriven: set[str] = field(default_factory=set)

    def authorizations(self) -> dict[str, list[Row]]:
        """Provider authorizations by their reference, the payment id."""
        found: dict[str, list[Row]] = defaultdict(list)
        for op in self.operations:
            if op["kind"] == "authorization":
                found[op["reference"]].append(op)
        return found

    def on_authorization(self) -> dict[str, list[Row]]:
        """Provider operations by the authorization they act on (one points at itself)."""
        found: dict[str, list[Row]] = defaultdict(list)
        for op in self.operations:
            found[op["authorization_id"]].append(op)
        return found


def read_records(
    bootstrap: str,
    urls: Mapping[str, str],
    codec: Codec,
    *,
    window: Window | None = None,
    watch: Watch | None = None,
) -> Records:
    """Everything, or what belongs to `window` (see the module's first lines); `watch` follows
    the reading of the topics (a progress bar)."""
    window = window or Window()
    span = {"start": window.start, "end": window.end}
    [clock] = _rows(urls["bff"], "SELECT now() AS now")
    bff = _by_payment(
        urls["bff"],
        "SELECT payment_id, status, amount_minor, lines, authorized_minor, captured_minor,"
        f" refunded_minor, order_id, created_at FROM payments WHERE {_IN_WINDOW}",
        span,
    )
    ids = {"ids": None if window.everything else sorted(bff)}
    records = Records(
        bff=bff,
        billing=_by_payment(
            urls["billing"],
            "SELECT payment_id, status, provider_authorization_id FROM authorizations"
            f" WHERE {_OF_PAYMENTS}",
            ids,
        ),
        orders=_by_payment(
            urls["orders"],
            f"SELECT payment_id, order_id, status FROM orders WHERE {_OF_PAYMENTS}",
            ids,
        ),
        capture=_by_payment(
            urls["capture"],
            "SELECT payment_id, status, captured_minor, refunded_minor FROM payments"
            f" WHERE {_OF_PAYMENTS}",
            ids,
        ),
        # Every operation on the authorizations of the window's payments, and on those an
        # operation in the window acts on: a stray's, or that of a payment accepted earlier.
        operations=_rows(
            urls["psp"],
            "SELECT id, kind, reference, authorization_id, amount_minor, status, created_at"
            " FROM operations WHERE %(ids)s::text[] IS NULL OR authorization_id IN ("
            "  SELECT id FROM operations"
            "  WHERE kind = 'authorization' AND reference = ANY(%(ids)s::text[])"
            f"  UNION SELECT authorization_id FROM operations WHERE {_IN_WINDOW})",
            {**ids, **span},
        ),
        window=window,
        read_at=clock["now"],
    )
    for row in _rows(
        urls["capture"],
        "SELECT payment_id, payment_order_id, status, capture_id FROM payment_orders"
        f" WHERE {_OF_PAYMENTS}",
        ids,
    ):
        records.payment_orders[row["payment_id"]].append(row)
    # Read last: every event the tables above reflect is on its topic by now.
    records.scan = scan_topics(bootstrap, codec, window=window, watch=watch)
    # After the scan: a dead letter it read that was re-driven meanwhile is in the ledger too.
    target = Target(bootstrap, urls)
    records.redriven = {str(position) for position in read_ledger(target, target.admin())}
    referred = set(records.scan.events) | set(records.authorizations())
    records.accepted_elsewhere = set(
        _by_payment(
            urls["bff"],
            "SELECT payment_id FROM payments WHERE payment_id = ANY(%(ids)s::text[])",
            {"ids": sorted(referred - set(bff))},
        )
    )
    return records


def _by_payment(url: str, sql: str, params: Mapping[str, Any]) -> dict[str, Row]:
    return {row["payment_id"]: row for row in _rows(url, sql, params)}


def _rows(url: str, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
    with psycopg.connect(
        url, options="-c default_transaction_read_only=on", row_factory=dict_row
    ) as conn:
        return conn.execute(sql, params).fetchall()
