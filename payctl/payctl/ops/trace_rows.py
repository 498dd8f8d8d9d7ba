"""What each service's database holds for one payment, read-only: its own tables, the retry
schedule, and the provider's operations (the simulated provider's database, when there is one)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row

from payctl.errors import OpsError

if TYPE_CHECKING:
    from payctl.ops.target import Target

Row = dict[str, Any]

# Each service's tables that name the payment, by database. SQL is spelled out here (not the
# services' ORM tables): payctl must not import the services, and these are their public shapes.
TABLES: dict[str, dict[str, str]] = {
    "bff": {
        "payments": "SELECT * FROM payments WHERE payment_id = %(p)s",
        "payment_history": "SELECT * FROM payment_history WHERE payment_id = %(p)s ORDER BY at, id",
        "refunds": "SELECT * FROM refunds WHERE payment_id = %(p)s ORDER BY requested_at",
    },
    "billing": {"authorizations": "SELECT * FROM authorizations WHERE payment_id = %(p)s"},
    "orders": {"orders": "SELECT * FROM orders WHERE payment_id = %(p)s"},
    "capture": {
        "payments": "SELECT * FROM payments WHERE payment_id = %(p)s",
        "payment_orders": "SELECT * FROM payment_orders WHERE payment_id = %(p)s ORDER BY line_no",
        "refunds": "SELECT * FROM refunds WHERE payment_id = %(p)s ORDER BY created_at",
        "refund_lines": "SELECT * FROM refund_lines WHERE payment_id = %(p)s"
        " ORDER BY refund_id, line_no",
        "journal_entries": "SELECT * FROM journal_entries WHERE payment_id = %(p)s"
        " ORDER BY posted_at",
    },
}
# The message itself (key, value, headers) is left out: the timeline shows the event.
RETRY_SCHEDULE = (
    'SELECT id, event_id, topic, "partition", "offset", attempts, due_at, last_error, created_at'
    " FROM retry_schedule WHERE payment_id = %(p)s ORDER BY id"
)
# The authorization is referenced by the payment id, captures by the payment orders' ids; voids,
# captures and refunds all name the authorization they act on.
PROVIDER_OPERATIONS = (
    "SELECT * FROM operations WHERE reference = ANY(%(refs)s) OR authorization_id IN"
    " (SELECT id FROM operations WHERE kind = 'authorization' AND reference = %(p)s)"
    " ORDER BY seq"
)
# When the BFF handled each event in its history: a relay held back by an outage publishes long
# after the event occurred, and the message's timestamp is the publishing time.
HANDLED = "SELECT handled_at FROM inbox WHERE event_id = ANY(%(ids)s)"
SERVICE_DATABASES = ("bff", "billing", "orders", "capture")
# A bearer credential: the trace is shown on terminals and pasted into tickets.
SECRET_COLUMNS = frozenset({"sso_token"})


@dataclass
class Rows:
    tables: dict[str, dict[str, list[Row]]] = field(default_factory=dict)  # database -> table
    retry_schedule: dict[str, list[Row]] = field(default_factory=dict)  # database -> rows
    provider_operations: list[Row] | None = None  # None: no provider database to read
    provider_note: str | None = None
    handled_at: list[datetime] = field(default_factory=list)

    @property
    def bff_payment(self) -> Row | None:
        found = self.tables.get("bff", {}).get("payments", [])
        return found[0] if found else None

    def moments(self) -> list[datetime]:
        """Every time a row records: when something happened to the payment."""
        rows = [r for tables in self.tables.values() for rs in tables.values() for r in rs]
        rows += [r for rs in self.retry_schedule.values() for r in rs]
        rows += self.provider_operations or []
        stamped = [v for r in rows for v in r.values() if isinstance(v, datetime)]
        return stamped + self.handled_at


def read_rows(target: Target, payment_id: str) -> Rows:
    rows = Rows()
    for database in SERVICE_DATABASES:  # every database with tables of the payment, in flow order
        with target.connect(database) as conn:
            cursor = conn.cursor(row_factory=dict_row)
            held = {
                name: _query(cursor, database, sql, {"p": payment_id})
                for name, sql in TABLES.get(database, {}).items()
            }
            rows.tables[database] = {n: [_shown(r) for r in rs] for n, rs in held.items()}
            rows.retry_schedule[database] = _query(
                cursor, database, RETRY_SCHEDULE, {"p": payment_id}
            )
            if database == "bff":
                ids = [h["event_id"] for h in held["payment_history"]]
                handled = _query(cursor, database, HANDLED, {"ids": ids})
                rows.handled_at = [r["handled_at"] for r in handled]
    orders = rows.tables["capture"]["payment_orders"]
    references = [payment_id, *(o["payment_order_id"] for o in orders)]
    try:
        conn = target.connect("psp")
    except OpsError as e:
        # A real provider keeps its ledger to itself: the trace goes on without it.
        rows.provider_note = str(e)
        return rows
    with conn:
        cursor = conn.cursor(row_factory=dict_row)
        rows.provider_operations = _query(
            cursor, "psp", PROVIDER_OPERATIONS, {"p": payment_id, "refs": references}
        )
    return rows


def _query(
    cursor: psycopg.Cursor[Row], database: str, sql: str, params: dict[str, Any]
) -> list[Row]:
    try:
        return cursor.execute(sql, params).fetchall()
    except psycopg.Error as e:
        raise OpsError(f"cannot read the {database} database: {e}") from None


def _shown(row: Row) -> Row:
    return {k: "<redacted>" if k in SECRET_COLUMNS and v else v for k, v in row.items()}
