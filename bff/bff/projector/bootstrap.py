"""The one wiring point of the projector: settings in, a runnable service out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bff.adapters.connections import bound_connect_time
from bff.adapters.orm import start_mappers
from bff.projector.handlers import STATUSES
from bff.unit_of_work import BffUnitOfWork
from paykit.service import Wiring, wire
from paykit.states import per_message

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bff.domain.payment import Payment
    from bff.settings import ProjectorSettings
    from paykit.dispatch import Handler
    from paykit.states import StateHandlers
    from payment_events.events import Event


@dataclass
class Projector:
    wiring: Wiring
    statuses: StateHandlers[Payment] = STATUSES

    @property
    def handlers(self) -> Mapping[type[Event], Handler[Any]]:
        """The same handlers one message at a time in a unit of work: the retry schedule's
        path, and the path of a payment its batch could not apply."""
        return per_message(self.statuses)

    def unit_of_work(self) -> BffUnitOfWork:
        return BffUnitOfWork(self.wiring.session_factory, self.wiring.codec)


def bootstrap(settings: ProjectorSettings) -> Projector:
    start_mappers()
    wiring = wire(settings)
    bound_connect_time(wiring.engine)
    return Projector(wiring)
