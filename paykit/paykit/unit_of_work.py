"""The unit of work: one Postgres transaction holding a handler's state change, the events it
recorded (as outbox rows) and the inbox row of the event being handled. Nothing is published
here; the relay does that after commit, so no state change can exist without its events.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Self, cast

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from paykit.db import inbox, outbox
from paykit.messages import Trace
from paykit.outbox import outbox_row

if TYPE_CHECKING:
    from types import TracebackType

    import psycopg
    from sqlalchemy.orm import Session, sessionmaker

    from payment_events.codec import Codec
    from payment_events.events import Event


class UnitOfWork:
    session: Session

    def __init__(self, session_factory: sessionmaker[Session], codec: Codec) -> None:
        self._session_factory = session_factory
        self._codec = codec
        self.trace: Trace | None = None
        # 1 on a message's first delivery, n on its nth try from the retry schedule: above 1, an
        # earlier try may have reached the provider, so its outcome is asked before calling again.
        self.attempt = 1
        # A message `payctl replay` re-delivered (paykit.replays): this service may have acted on
        # it before its database was restored, though the database does not know it.
        self.replayed = False
        self.retry_reason: str | None = None
        self._recorded: list[Event] = []

    def __enter__(self) -> Self:
        self.session = self._session_factory()
        self._recorded = []
        self.retry_reason = None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Anything not committed explicitly is rolled back: a handler that raised leaves no trace.
        self.session.rollback()
        self.session.close()

    @property
    def may_have_acted(self) -> bool:
        """Whether an earlier handling of this message may have reached the provider: a handler
        then asks the provider what it did before asking it to act (settles by lookup)."""
        return self.attempt > 1 or self.replayed

    def claim(self, event_id: str, topic: str, partition: int, offset: int) -> bool:
        """Records that this service handles `event_id`; False if it already has.

        The insert takes the row lock first, so a duplicate handled concurrently by another
        instance (after a rebalance) waits here and then sees the conflict.
        """
        claimed = self.session.execute(
            insert(inbox)
            .values(event_id=event_id, topic=topic, partition=partition, offset=offset)
            .on_conflict_do_nothing(index_elements=[inbox.c.event_id])
            .returning(inbox.c.event_id)
        ).first()
        return claimed is not None

    def connection(self) -> psycopg.Connection[Any]:
        """The psycopg connection of this unit of work's transaction, for plain SQL
        (`paykit.states`)."""
        conn = self.session.connection().connection.driver_connection
        assert conn is not None  # a connection in use has its driver's
        return cast("psycopg.Connection[Any]", conn)

    def unclaim(self, event_id: str) -> None:
        self.session.execute(delete(inbox).where(inbox.c.event_id == event_id))

    def recorded_count(self) -> int:
        return len(self._recorded)

    def discard_recorded(self, since: int = 0) -> None:
        """Forgets the events recorded after the first `since`, whose changes were rolled back."""
        del self._recorded[since:]

    def retry_later(self, reason: str) -> None:
        """Commit what the handler did, and handle this message again later from the retry
        schedule (for work left pending, such as a capture the provider could not answer)."""
        self.retry_reason = reason

    def record(self, *events: Event) -> None:
        self._recorded.extend(events)

    def commit(self) -> None:
        if self._recorded:
            # An event id names one occurrence (payment_events.events.Event): recorded again, it
            # is the same event, already on its way.
            self.session.execute(
                insert(outbox).on_conflict_do_nothing(index_elements=[outbox.c.event_id]),
                [
                    outbox_row(self._codec, e, self.trace or Trace.start(e.payment_id))
                    for e in self._recorded
                ],
            )
            self._recorded = []
        self.session.commit()
