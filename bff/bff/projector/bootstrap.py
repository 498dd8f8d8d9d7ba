"""The one wiring point of the projector: settings in, a runnable service out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bff.adapters.connections import bound_connect_time
from bff.adapters.orm import start_mappers
from bff.projector.handlers import HANDLERS
from bff.unit_of_work import BffUnitOfWork
from paykit.service import Wiring, wire

if TYPE_CHECKING:
    from collections.abc import Mapping

    from bff.settings import ProjectorSettings
    from paykit.dispatch import Handler
    from payment_events.events import Event


@dataclass
class Projector:
    wiring: Wiring
    handlers: Mapping[type[Event], Handler[BffUnitOfWork]]

    def unit_of_work(self) -> BffUnitOfWork:
        return BffUnitOfWork(self.wiring.session_factory, self.wiring.codec)


def bootstrap(settings: ProjectorSettings) -> Projector:
    start_mappers()
    wiring = wire(settings)
    bound_connect_time(wiring.engine)
    return Projector(wiring, HANDLERS)
