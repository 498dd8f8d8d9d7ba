"""Drives capture's handlers as the runtime does, and reads back what they wrote."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select

from capture.adapters.orm import journal_entries, payment_orders, payments, postings, refund_lines
from paykit.db import outbox
from payment_events.catalog import topic_for
from payment_events.codec import Codec
from payment_events.registry import FileRegistry

if TYPE_CHECKING:
    from capture.bootstrap import CaptureService
    from payment_events.events import Event

# Decoded apart from the service's own codec: what a subscriber reading the topic would get.
codec = Codec(FileRegistry())

Delivery = Literal["handled", "duplicate", "retry_later"]


def deliver(service: CaptureService, event: Event, attempt: int = 1) -> Delivery:
    """As the runtime does it: claim, handle, commit. A handler asking to be retried later keeps
    its changes but not its claim, so the same event can be delivered again (`attempt` + 1)."""
    with service.unit_of_work() as uow:
        uow.attempt = attempt
        if not uow.claim(event.event_id, topic_for(type(event)).name, 0, 0):
            return "duplicate"
        service.handlers[type(event)](event, uow)
        retrying = uow.retry_reason is not None
        if retrying:
            uow.unclaim(event.event_id)
        uow.commit()
    return "retry_later" if retrying else "handled"


def deliver_until_settled(service: CaptureService, event: Event, attempts: int = 5) -> int:
    """Delivers as the retry schedule would until the handler stops asking for a retry; returns
    the attempt that settled it."""
    for attempt in range(1, attempts + 1):
        if deliver(service, event, attempt) != "retry_later":
            return attempt
    raise AssertionError(f"still asking for a retry after {attempts} attempts")


def give_up(service: CaptureService, event: Event, error: BaseException) -> Delivery:
    """As the runtime does once the attempts are used up: claim, give up, commit. A give-up that
    asks for a retry (some line still pending) says the message is not finished: its claim is
    not kept, so replaying the dead letter handles it again."""
    with service.unit_of_work() as uow:
        uow.claim(event.event_id, topic_for(type(event)).name, 0, 0)
        service.give_up[type(event)](event, uow, error)
        unfinished = uow.retry_reason is not None
        if unfinished:
            uow.unclaim(event.event_id)
        uow.commit()
    return "retry_later" if unfinished else "handled"


def published(service: CaptureService) -> list[Event]:
    with service.wiring.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.value).order_by(outbox.c.id)).scalars().all()
    return [codec.decode(v) for v in rows]


def payment_row(service: CaptureService, payment_id: str) -> Any:
    with service.wiring.engine.connect() as conn:
        return conn.execute(select(payments).where(payments.c.payment_id == payment_id)).one()


def payment_order_rows(service: CaptureService, payment_id: str) -> list[Any]:
    with service.wiring.engine.connect() as conn:
        return list(
            conn.execute(
                select(payment_orders)
                .where(payment_orders.c.payment_id == payment_id)
                .order_by(payment_orders.c.line_no)
            ).all()
        )


def refund_line_rows(service: CaptureService, refund_id: str) -> list[Any]:
    with service.wiring.engine.connect() as conn:
        return list(
            conn.execute(
                select(refund_lines)
                .where(refund_lines.c.refund_id == refund_id)
                .order_by(refund_lines.c.line_no)
            ).all()
        )


def account_balances(service: CaptureService) -> dict[str, int]:
    """The sum of each account's postings, read straight from the tables."""
    with service.wiring.engine.connect() as conn:
        rows = conn.execute(
            select(postings.c.account, func.sum(postings.c.amount_minor)).group_by(
                postings.c.account
            )
        ).all()
    return {account: int(total) for account, total in rows}


def entry_ids(service: CaptureService, payment_id: str) -> list[str]:
    with service.wiring.engine.connect() as conn:
        return list(
            conn.execute(
                select(journal_entries.c.entry_id)
                .where(journal_entries.c.payment_id == payment_id)
                .order_by(journal_entries.c.entry_id)
            ).scalars()
        )
