"""Drives capture's handlers as the consumer loop does, and reads back what they wrote."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from capture.adapters.orm import payment_orders, payments
from paykit.db import outbox
from payment_events.codec import Codec
from payment_events.registry import FileRegistry

if TYPE_CHECKING:
    from capture.bootstrap import CaptureService
    from payment_events.events import Event

# Decoded apart from the service's own codec: what a subscriber reading the topic would get.
codec = Codec(FileRegistry())


def deliver(service: CaptureService, event: Event) -> bool:
    """As the consumer loop does it: claim, handle, commit; False for a duplicate."""
    with service.unit_of_work() as uow:
        if not uow.claim(event.event_id, "order-confirmed", 0, 0):
            return False
        service.handlers[type(event)](event, uow)
        uow.commit()
    return True


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
