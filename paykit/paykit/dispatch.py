"""Handling one event in one transaction, from Kafka or from the retry schedule: the inbox claim,
the handler, and what follows its outcome (done, parked for later, given up, dead-lettered).

Infrastructure errors (database, broker) are not handled here: they propagate, nothing is
committed, and the caller tries the same message again in place.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import psycopg
import structlog
from sqlalchemy.exc import DBAPIError, OperationalError

from paykit import retries
from paykit.errors import PermanentError, RetryLater, TransientError
from paykit.messages import trace_of
from paykit.metrics import GIVE_UPS, MESSAGES
from paykit.replays import ReplayMarks
from paykit.unit_of_work import UnitOfWork
from payment_events.codec import DecodeError, RegistryUnavailable

if TYPE_CHECKING:
    from collections.abc import Mapping

    from paykit.dead_letters import DeadLetters
    from paykit.messages import Received, Trace
    from paykit.offsets import Partition
    from paykit.retries import Parked, RetryPolicy
    from payment_events.codec import Codec
    from payment_events.events import Event

U = TypeVar("U", bound=UnitOfWork)
Handler = Callable[[Any, U], None]
# Called with the event, a unit of work and the last error once a message's retries are used up:
# records the terminal state (e.g. PaymentFailed provider_unavailable) before it is dead-lettered.
GiveUp = Callable[[Any, U, BaseException], None]

log = structlog.get_logger()


class Outcome(StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    PARKED = "parked"
    DEAD_LETTERED = "dead_lettered"
    SKIPPED = "skipped"


def is_infrastructure(error: BaseException) -> bool:
    """An error about the world every message needs (database, broker), not about this one."""
    from confluent_kafka import KafkaException

    if isinstance(
        error,
        TransientError
        | OperationalError
        | psycopg.OperationalError
        | psycopg.InterfaceError
        | KafkaException
        | RegistryUnavailable,
    ):
        return True
    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


class NoHandler(PermanentError):
    code = "no_handler"


class GaveUp(RetryLater):
    """The message was tried as often as the policy allows."""

    def __init__(self, attempts: int, last_error: BaseException) -> None:
        super().__init__(f"gave up after {attempts} attempts: {last_error}")
        self.code = str(getattr(last_error, "code", "gave_up"))
        self.last_error = last_error


class Dispatcher(Generic[U]):
    def __init__(
        self,
        *,
        codec: Codec,
        handlers: Mapping[type[Event], Handler[U]],
        give_up: Mapping[type[Event], GiveUp[U]],
        uow_factory: Callable[[], U],
        dead_letters: DeadLetters,
        policy: RetryPolicy,
    ) -> None:
        self._codec = codec
        self._replays = ReplayMarks()
        self._handlers = handlers
        self._give_up = give_up
        self._uow_factory = uow_factory
        self._dead_letters = dead_letters
        self.policy = policy
        # Called after a message was parked on the retry schedule and committed (the retry
        # worker's wake-up).
        self.on_parked: Callable[[], None] = lambda: None

    def deliver(self, msg: Received, event: Event, trace: Trace) -> Outcome:
        """A message's first delivery from Kafka."""
        outcome = self._deliver(msg, event, trace)
        if outcome is Outcome.PARKED:
            self.on_parked()
        return outcome

    def _deliver(self, msg: Received, event: Event, trace: Trace) -> Outcome:
        handler = self._handlers.get(type(event))
        if handler is None:
            return Outcome.SKIPPED
        with self._uow_factory() as uow:
            uow.trace = trace
            if retries.holds(uow.session, event.payment_id):
                # An earlier event of this payment waits on the schedule: this one waits behind
                # it, so a payment's events are still applied in order.
                retries.park(
                    uow.session,
                    msg,
                    event_id=event.event_id,
                    payment_id=event.payment_id,
                    attempts=0,
                    delay=0,
                    error=None,
                )
                uow.commit()
                log.info("message_parked_behind_earlier")
                return Outcome.PARKED
            return self._attempt_guarded(uow, msg, event, handler, parked=None)

    def redelivered_below(self) -> Mapping[Partition, int]:
        """Per partition, the offset below which a replay re-delivered messages (ReplayMarks)."""
        with self._uow_factory() as uow:
            return self._replays.below(uow.session)

    def retry_due(self) -> bool:
        """Tries the most overdue parked message; False when none is due."""
        with self._uow_factory() as uow:
            parked = retries.take_due(uow.session)
            if parked is None:
                return False
            msg = parked.message
            structlog.contextvars.bind_contextvars(
                topic=msg.topic, partition=msg.partition, offset=msg.offset
            )
            try:
                event = self._codec.decode(msg.value)
            except DecodeError as e:  # parked by an instance that knew a schema this one does not
                self._dead_letters.send(msg, e, parked.attempts + 1)
                retries.remove(uow.session, parked)
                uow.commit()
                return True
            trace = trace_of(msg.header_values(), event.event_id, event.payment_id)
            structlog.contextvars.bind_contextvars(
                event_id=event.event_id,
                payment_id=event.payment_id,
                correlation_id=trace.correlation_id,
            )
            uow.trace = trace
            handler = self._handlers.get(type(event))
            if handler is None:  # parked by a version of this service that handled it
                self._dead_letters.send(msg, NoHandler(type(event).__name__), parked.attempts + 1)
                retries.remove(uow.session, parked)
                uow.commit()
                return True
            outcome = self._attempt_guarded(uow, msg, event, handler, parked)
        MESSAGES.labels(msg.topic, f"retry_{outcome}").inc()
        return True

    def _attempt_guarded(
        self, uow: U, msg: Received, event: Event, handler: Handler[U], parked: Parked | None
    ) -> Outcome:
        try:
            return self._attempt(uow, msg, event, handler, parked)
        except Exception as e:
            if is_infrastructure(e):
                raise
            # The transaction failed at commit (a deferred constraint, an event that cannot be
            # encoded): nothing of it holds. Park the message like any other surprise.
            log.exception("commit_failed")
            uow.session.rollback()
            uow.discard_recorded()
            return self._defer_after_failed_commit(msg, event, parked, e)

    def _attempt(
        self, uow: U, msg: Received, event: Event, handler: Handler[U], parked: Parked | None
    ) -> Outcome:
        """Runs the handler inside a savepoint, so that whatever it did can be undone while the
        schedule row (locked in the same transaction) is still updated."""
        uow.attempt = (parked.attempts if parked else 0) + 1
        uow.replayed = self._replays.redelivered(uow.session, msg.topic, msg.partition, msg.offset)
        mark = uow.recorded_count()
        savepoint = uow.session.begin_nested()
        try:
            claimed = uow.claim(event.event_id, msg.topic, msg.partition, msg.offset)
            if claimed:
                handler(event, uow)
                if uow.retry_reason is not None:
                    # Keep what the handler did, not its claim: it is handled again later.
                    uow.unclaim(event.event_id)
            savepoint.commit()
        except PermanentError as e:
            self._undo(uow, savepoint, mark)
            log.error("message_rejected", code=e.code, error=str(e))
            self._dead_letters.send(msg, e, uow.attempt)
            return self._finish(uow, parked, Outcome.DEAD_LETTERED)
        except Exception as e:
            if is_infrastructure(e):
                raise
            self._undo(uow, savepoint, mark)
            if not isinstance(e, RetryLater):
                # Unclassified: a bug or a surprise. Retried on the schedule like a provider
                # outage, then given up with its dead letter; it never blocks the partition.
                log.exception("handler_failed")
            return self._defer(uow, msg, event, parked, e)
        if not claimed:
            log.info("duplicate_ignored")
            return self._finish(uow, parked, Outcome.DUPLICATE)
        if uow.retry_reason is not None:
            return self._defer(uow, msg, event, parked, RetryLater(uow.retry_reason))
        return self._finish(uow, parked, Outcome.HANDLED)

    def _defer(
        self, uow: U, msg: Received, event: Event, parked: Parked | None, error: BaseException
    ) -> Outcome:
        attempts = uow.attempt
        if self.policy.exhausted(attempts):
            return self._abandon(uow, msg, event, parked, GaveUp(attempts, error))
        delay = self.policy.delay(attempts)
        reason = f"{type(error).__name__}: {error}"[:2000]
        if parked is None:
            retries.park(
                uow.session,
                msg,
                event_id=event.event_id,
                payment_id=event.payment_id,
                attempts=attempts,
                delay=delay,
                error=reason,
            )
        else:
            retries.reschedule(uow.session, parked, attempts=attempts, delay=delay, error=reason)
        uow.commit()
        log.warning(
            "handler_retry_scheduled", attempt=attempts, in_seconds=round(delay, 3), error=reason
        )
        return Outcome.PARKED

    def _defer_after_failed_commit(
        self, msg: Received, event: Event, parked: Parked | None, error: BaseException
    ) -> Outcome:
        with self._uow_factory() as uow:
            uow.attempt = (parked.attempts if parked else 0) + 1
            if parked is not None and not retries.lock(uow.session, parked):
                return Outcome.PARKED  # another instance took it meanwhile
            if self.policy.exhausted(uow.attempt):
                # No give-up handler here: its commit could fail the same way. The inbox is not
                # claimed, so replaying the dead letter after a fix handles the event.
                self._dead_letters.send(msg, GaveUp(uow.attempt, error), uow.attempt)
                GIVE_UPS.labels(msg.topic).inc()
                return self._finish(uow, parked, Outcome.DEAD_LETTERED)
            return self._defer(uow, msg, event, parked, error)

    def _abandon(
        self, uow: U, msg: Received, event: Event, parked: Parked | None, error: GaveUp
    ) -> Outcome:
        # The dead letter goes first: a crash before the commit below gives up once more (a
        # second copy on the dead-letter topic), never loses the record of giving up.
        self._dead_letters.send(msg, error, uow.attempt)
        give_up = self._give_up.get(type(event))
        uow.retry_reason = None
        mark = uow.recorded_count()
        savepoint = uow.session.begin_nested()
        try:
            if give_up is not None:
                give_up(event, uow, error.last_error)
            # Claimed only when the give-up recorded a terminal state; otherwise replaying the
            # dead letter must handle the event again.
            if give_up is not None and uow.retry_reason is None:
                uow.claim(event.event_id, msg.topic, msg.partition, msg.offset)
            savepoint.commit()
        except Exception as e:
            if is_infrastructure(e):
                raise
            self._undo(uow, savepoint, mark)
            log.exception("give_up_failed")
        GIVE_UPS.labels(msg.topic).inc()
        log.error("message_given_up", attempts=uow.attempt, error=str(error))
        return self._finish(uow, parked, Outcome.DEAD_LETTERED)

    def _finish(self, uow: U, parked: Parked | None, outcome: Outcome) -> Outcome:
        if parked is not None:
            retries.remove(uow.session, parked)
        uow.commit()
        return outcome

    @staticmethod
    def _undo(uow: U, savepoint: Any, mark: int) -> None:
        """Rolls back to the savepoint and forgets the events recorded since it."""
        savepoint.rollback()
        uow.discard_recorded(since=mark)
