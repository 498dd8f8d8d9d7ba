"""Reads of the operations ledger: `GET /v1/operations` answered as JSON built by the database."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from typing import TYPE_CHECKING

from psycopg import sql

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg.rows import TupleRow

    from psp_sim.operations import Kind


@dataclass(frozen=True)
class Filters:
    reference: str | None = None
    kind: Kind | None = None
    authorization_id: str | None = None
    capture_id: str | None = None
    idempotency_key: str | None = None


# The shape of an operation in the API (api.models.OperationOut documents it).
_OPERATION = sql.SQL(
    "json_build_object('kind', kind, 'id', id, 'idempotency_key', idempotency_key,"
    " 'reference', reference, 'authorization_id', authorization_id, 'capture_id', capture_id,"
    " 'amount_minor', amount_minor, 'currency', currency, 'status', status,"
    " 'decline_code', decline_code, 'decline_reason', decline_reason,"
    " 'created_at', psp_timestamp(created_at))"
)


async def find(conn: AsyncConnection[TupleRow], filters: Filters) -> str:
    """`{"operations": [...]}` in order of creation, every given filter combined with AND."""
    given = {
        f.name: value for f in fields(filters) if (value := getattr(filters, f.name)) is not None
    }
    row = await (await conn.execute(_query(tuple(given)), list(given.values()))).fetchone()
    assert row is not None
    found: str = row[0]
    return found


@cache
def _query(filtered_by: tuple[str, ...]) -> sql.Composed:
    # One statement per combination of filters, so each is prepared with a plan that uses its
    # index rather than one generic plan for all.
    where = sql.SQL(" AND ").join(
        sql.SQL("{} = %s").format(sql.Identifier(name)) for name in filtered_by
    )
    return sql.SQL(
        "SELECT json_build_object('operations', coalesce(json_agg({} ORDER BY seq), '[]'))::text"
        " FROM operations{}"
    ).format(_OPERATION, sql.SQL(" WHERE ") + where if filtered_by else sql.SQL(""))
