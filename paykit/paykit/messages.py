"""What travels beside an event: the Kafka headers that trace one payment across services."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from confluent_kafka import Message

CORRELATION_ID = "correlation_id"
CAUSATION_ID = "causation_id"
TRACEPARENT = "traceparent"
EVENT_TYPE = "event_type"


def _traceparent(trace_id: str | None = None) -> str:
    return f"00-{trace_id or secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """Same trace, new span: W3C `version-traceid-spanid-flags`."""
    parts = (parent or "").split("-")
    return _traceparent(parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None)


@dataclass(frozen=True)
class Trace:
    """The causal context an event is recorded in."""

    correlation_id: str
    causation_id: str | None
    traceparent: str

    @classmethod
    def start(cls, correlation_id: str) -> Trace:
        return cls(correlation_id, None, _traceparent())

    def caused_by(self, event_id: str) -> Trace:
        return Trace(self.correlation_id, event_id, child_traceparent(self.traceparent))

    def headers(self, event_type: str) -> dict[str, str]:
        h = {
            CORRELATION_ID: self.correlation_id,
            TRACEPARENT: child_traceparent(self.traceparent),
            EVENT_TYPE: event_type,
        }
        if self.causation_id:
            h[CAUSATION_ID] = self.causation_id
        return h


KafkaHeaders = list[tuple[str, str | bytes | None]]


@dataclass(frozen=True)
class Received:
    """A consumed Kafka message with the fields a consumed message always has."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: KafkaHeaders

    @classmethod
    def of(cls, msg: Message) -> Received:
        topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
        assert topic is not None
        assert partition is not None
        assert offset is not None
        raw = msg.headers() or []
        headers = list(raw.items()) if isinstance(raw, dict) else list(raw)
        key, value = msg.key(), msg.value()
        return cls(
            topic,
            partition,
            offset,
            key.encode() if isinstance(key, str) else key,
            value.encode() if isinstance(value, str) else value,
            headers,
        )

    def header_values(self) -> dict[str, str]:
        return {
            k: v.decode("utf-8", "replace") if isinstance(v, bytes) else v
            for k, v in self.headers
            if v is not None
        }


def trace_of(headers: dict[str, str], event_id: str, payment_id: str) -> Trace:
    """The trace to record follow-up events in; an event without headers starts one."""
    return Trace(
        correlation_id=headers.get(CORRELATION_ID, payment_id),
        causation_id=event_id,
        traceparent=headers.get(TRACEPARENT) or _traceparent(),
    )


def as_kafka_headers(headers: dict[str, Any]) -> KafkaHeaders:
    return [(k, str(v).encode()) for k, v in headers.items()]
