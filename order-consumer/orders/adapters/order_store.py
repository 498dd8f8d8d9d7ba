"""Orders as the handlers load and save them, many payments at once, in plain SQL
(`paykit.states.StateStore`), with the SSO tokens issued for them."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from psycopg.types.json import Jsonb

from orders.domain.model import Order, OrderStatus
from payment_events.events import SellerLine

if TYPE_CHECKING:
    from collections.abc import Sequence

    import psycopg

# Ordered, so that batches locking many orders take the locks in one order.
LOAD = (
    "SELECT payment_id, customer_id, currency, amount_minor, authorization_id, lines, order_id, "
    "status, refusal_code, refusal_reason "
    "FROM orders WHERE payment_id = ANY(%s) ORDER BY payment_id FOR UPDATE"
)
# An order is written once, when it is made; one made meanwhile for the same payment (by another
# instance: its id follows from the payment's) fails the insert on the primary key, so the
# transaction that lost rolls back with the event it recorded, and its retry finds the order.
# Another order id for a payment that has one fails on orders_one_per_payment.
SAVE = (
    "WITH made AS ("
    " INSERT INTO orders (order_id, payment_id, customer_id, currency, amount_minor,"
    " authorization_id, lines, status, refusal_code, refusal_reason)"
    " SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[],"
    " %s::text[], %s::jsonb[], %s::text[], %s::text[], %s::text[])"
    " RETURNING order_id) "
    "INSERT INTO sso_tokens (jti, order_id, customer_id, issued_at, expires_at) "
    "SELECT t.jti, t.order_id, t.customer_id, t.issued_at, t.expires_at "
    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[]) "
    "AS t(jti, order_id, customer_id, issued_at, expires_at) JOIN made USING (order_id)"
)


class OrderStore:
    def load(self, conn: psycopg.Connection[Any], payment_ids: Sequence[str]) -> dict[str, Order]:
        rows = conn.execute(LOAD, (list(payment_ids),)).fetchall()
        return {row[0]: _order(row) for row in rows}

    def save(self, conn: psycopg.Connection[Any], states: Sequence[Order]) -> None:
        """Creates the new orders with their tokens; an order never changes once made."""
        states = [o for o in states if o.new]
        if not states:
            return
        tokens = [o.issued_token for o in states if o.issued_token is not None]
        conn.execute(
            SAVE,
            (
                [o.order_id for o in states],
                [o.payment_id for o in states],
                [o.customer_id for o in states],
                [o.currency for o in states],
                [o.amount_minor for o in states],
                [o.authorization_id for o in states],
                [Jsonb([dataclasses.asdict(x) for x in o.lines]) for o in states],
                [o.status.value for o in states],
                [o.refusal_code for o in states],
                [o.refusal_reason for o in states],
                [t.jti for t in tokens],
                [t.order_id for t in tokens],
                [t.customer_id for t in tokens],
                [t.issued_at for t in tokens],
                [t.expires_at for t in tokens],
            ),
        )
        for order in states:
            order.new = False
            order.issued_token = None  # recorded: the token itself is never kept


def _order(row: tuple[Any, ...]) -> Order:
    return Order(
        payment_id=row[0],
        customer_id=row[1],
        currency=row[2],
        amount_minor=row[3],
        authorization_id=row[4],
        lines=tuple(SellerLine(**line) for line in row[5]),
        order_id=row[6],
        status=OrderStatus(row[7]),
        refusal_code=row[8],
        refusal_reason=row[9],
        new=False,
    )
