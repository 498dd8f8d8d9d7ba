"""The topic catalog: which event travels on which topic, who produces it and who consumes it.

`docs/topics.md` is checked against this table by a test, so the two cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass

from payment_events.events import (
    CaptureFailed,
    Event,
    OrderConfirmed,
    OrderFailed,
    PaymentCaptured,
    PaymentFailed,
    PaymentInitiated,
    PaymentRefunded,
    PaymentSucceeded,
    PaymentVoided,
    RefundFailed,
    RefundRequested,
)


@dataclass(frozen=True)
class Topic:
    name: str
    event_type: type[Event]
    schema_file: str
    producer: str
    consumers: tuple[str, ...]

    @property
    def subject(self) -> str:
        # Confluent TopicNameStrategy: one value schema per topic.
        return f"{self.name}-value"

    @property
    def dead_letter(self) -> str:
        return f"{self.name}.dlq"


CATALOG: tuple[Topic, ...] = (
    Topic(
        "payment-initiated",
        PaymentInitiated,
        "payment_initiated.avsc",
        "bff",
        ("billing-consumer",),
    ),
    Topic(
        "payment-succeeded",
        PaymentSucceeded,
        "payment_succeeded.avsc",
        "billing-consumer",
        ("order-consumer", "bff"),
    ),
    Topic("payment-failed", PaymentFailed, "payment_failed.avsc", "billing-consumer", ("bff",)),
    Topic(
        "order-confirmed",
        OrderConfirmed,
        "order_confirmed.avsc",
        "order-consumer",
        ("capture-consumer", "bff"),
    ),
    Topic(
        "order-failed",
        OrderFailed,
        "order_failed.avsc",
        "order-consumer",
        ("billing-consumer", "bff"),
    ),
    Topic("payment-voided", PaymentVoided, "payment_voided.avsc", "billing-consumer", ("bff",)),
    Topic(
        "payment-captured", PaymentCaptured, "payment_captured.avsc", "capture-consumer", ("bff",)
    ),
    Topic("capture-failed", CaptureFailed, "capture_failed.avsc", "capture-consumer", ("bff",)),
    Topic(
        "refund-requested",
        RefundRequested,
        "refund_requested.avsc",
        "bff",
        ("capture-consumer",),
    ),
    Topic(
        "payment-refunded", PaymentRefunded, "payment_refunded.avsc", "capture-consumer", ("bff",)
    ),
    Topic("refund-failed", RefundFailed, "refund_failed.avsc", "capture-consumer", ("bff",)),
)

BY_TYPE: dict[type[Event], Topic] = {t.event_type: t for t in CATALOG}
BY_RECORD_NAME: dict[str, Topic] = {t.event_type.__name__: t for t in CATALOG}


def topic_for(event_type: type[Event]) -> Topic:
    return BY_TYPE[event_type]


def topics_consumed_by(service: str) -> list[str]:
    return [t.name for t in CATALOG if service in t.consumers]


def all_topic_names() -> list[str]:
    """Every topic the system uses, dead-letter topics included."""
    return [name for t in CATALOG for name in (t.name, t.dead_letter)]
