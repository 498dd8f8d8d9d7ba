"""What a service hands the batch runtime (`paykit.batches`): where its state lives, loaded and
saved for many payments at once in plain SQL, and its handlers as plain functions of an event and
a payment's state. The same two serve the per-message path (`per_message`), which the runtime
takes for a payment whose batch handling failed, and the retry schedule.

Guarantee: a handler sees the state as the transaction it runs in locked it, and what it returns
is saved, with the events it recorded, in that transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import psycopg

    from paykit.dispatch import Handler
    from paykit.unit_of_work import UnitOfWork
    from payment_events.events import Event


class Recording(Protocol):
    """An aggregate: it records the events its changes cause (the runtime writes them to the
    outbox with the state, then empties the list)."""

    events: list[Event]


S = TypeVar("S", bound=Recording)


class StateStore(Protocol[S]):
    def load(self, conn: psycopg.Connection[Any], payment_ids: Sequence[str]) -> dict[str, S]:
        """The states of these payments (those it has), locked until the transaction ends.
        May be called inside a pipeline: its statements then travel with the caller's."""
        ...

    def save(self, conn: psycopg.Connection[Any], states: Sequence[S]) -> None:
        """Writes these states, loaded or new, in as few statements as it can."""
        ...


# (event, the payment's state or None when the store has none) -> the state to save. Raises
# like any handler: PermanentError dead-letters, RetryLater goes to the retry schedule.
Apply = Callable[[Any, S | None], S]


@dataclass(frozen=True)
class StateHandlers(Generic[S]):
    store: StateStore[S]
    handlers: Mapping[type[Event], Apply[S]]

    def apply(self, event: Event, state: S | None) -> S:
        return self.handlers[type(event)](event, state)


def per_message(state_handlers: StateHandlers[Any]) -> dict[type[Event], Handler[UnitOfWork]]:
    """The same handlers for the per-message dispatcher: one event in the unit of work's
    transaction, through the same store."""

    def handle(event: Event, uow: UnitOfWork) -> None:
        conn = uow.connection()
        state = state_handlers.store.load(conn, [event.payment_id]).get(event.payment_id)
        state = state_handlers.apply(event, state)
        state_handlers.store.save(conn, [state])
        uow.record(*state.events)
        state.events.clear()

    return dict.fromkeys(state_handlers.handlers, handle)
