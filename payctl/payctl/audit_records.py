"""What the audit reads, and only reads: the BFF's read model, each service's own tables, the
provider's ledger and every topic from the beginning, gathered into one `Records` per payment.

The services never read each other's tables; the audit does, as an outside observer, over
read-only sessions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from payctl.topic_scan import TopicScan, scan_topics

if TYPE_CHECKING:
    from collections.abc import Mapping

    from payment_events.codec import Codec

Row = dict[str, Any]


@dataclass
class Records:
    bff: dict[str, Row]  # payment id -> the BFF's payment
    billing: dict[str, Row] = field(default_factory=dict)  # -> billing's authorization
    orders: dict[str, Row] = field(default_factory=dict)  # -> orders' order
    capture: dict[str, Row] = field(default_factory=dict)  # -> capture's payment
    payment_orders: dict[str, list[Row]] = field(default_factory=lambda: defaultdict(list))
    operations: list[Row] = field(default_factory=list)  # the provider's ledger
    scan: TopicScan = field(default_factory=TopicScan)

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


def read_records(bootstrap: str, urls: Mapping[str, str], codec: Codec) -> Records:
    records = Records(
        bff=_by_payment(
            urls["bff"],
            "SELECT payment_id, status, amount_minor, lines, authorized_minor, captured_minor,"
            " order_id FROM payments",
        ),
        billing=_by_payment(
            urls["billing"],
            "SELECT payment_id, status, provider_authorization_id FROM authorizations",
        ),
        orders=_by_payment(urls["orders"], "SELECT payment_id, order_id, status FROM orders"),
        capture=_by_payment(
            urls["capture"], "SELECT payment_id, status, captured_minor FROM payments"
        ),
        operations=_rows(
            urls["psp"],
            "SELECT id, kind, reference, authorization_id, amount_minor, status FROM operations",
        ),
    )
    for row in _rows(
        urls["capture"],
        "SELECT payment_id, payment_order_id, status, capture_id FROM payment_orders",
    ):
        records.payment_orders[row["payment_id"]].append(row)
    # Read last: every event the tables above reflect is on its topic by now.
    records.scan = scan_topics(bootstrap, codec)
    return records


def _by_payment(url: str, sql: str) -> dict[str, Row]:
    return {row["payment_id"]: row for row in _rows(url, sql)}


def _rows(url: str, sql: str) -> list[Row]:
    with psycopg.connect(
        url, options="-c default_transaction_read_only=on", row_factory=dict_row
    ) as conn:
        return conn.execute(sql).fetchall()
