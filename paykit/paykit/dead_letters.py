"""Dead letters: a message that can never be handled is copied to `<topic>.dlq` with headers
naming the error, so its partition can move on and ops can inspect and replay it.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from confluent_kafka import KafkaError, KafkaException

from paykit.metrics import DEAD_LETTERS

if TYPE_CHECKING:
    from confluent_kafka import Message, Producer

    from paykit.messages import KafkaHeaders, Received


def error_code(error: BaseException) -> str:
    return str(getattr(error, "code", type(error).__name__))


class DeadLetters:
    def __init__(self, producer: Producer, service: str) -> None:
        self._producer = producer
        self._service = service

    def send(self, msg: Received, error: BaseException, attempts: int) -> None:
        """Publishes synchronously: the caller commits the offset only after this returns."""
        headers: KafkaHeaders = list(msg.headers)
        headers += [
            ("dlq.error.code", error_code(error)),
            ("dlq.error.message", str(error)[:2000]),
            ("dlq.service", self._service),
            ("dlq.original.topic", msg.topic),
            ("dlq.original.partition", str(msg.partition)),
            ("dlq.original.offset", str(msg.offset)),
            ("dlq.attempts", str(attempts)),
            ("dlq.failed_at", datetime.now(UTC).isoformat()),
        ]
        # The consumer loop and the retry worker share this producer, and a flush may run the
        # other thread's callbacks: wait for this message's own delivery report.
        outcome: list[KafkaError | None] = []
        reported = threading.Event()

        def delivered(err: KafkaError | None, _msg: Message) -> None:
            outcome.append(err)
            reported.set()

        self._producer.produce(
            f"{msg.topic}.dlq",
            key=msg.key,
            value=msg.value,
            headers=headers,
            on_delivery=delivered,
        )
        self._producer.flush(30)
        if not reported.wait(5):
            raise KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT))
        if outcome[0] is not None:
            raise KafkaException(outcome[0])
        DEAD_LETTERS.labels(msg.topic, error_code(error)).inc()
