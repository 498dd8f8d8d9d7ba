"""The one wiring point of capture: settings in, a runnable service out; tests pass fakes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from capture.adapters.orm import start_mappers
from capture.balances import balances_routes
from capture.handlers import GIVE_UP, HANDLERS
from capture.unit_of_work import CaptureUnitOfWork
from paykit.provider import ProviderClient
from paykit.service import Wiring, wire

if TYPE_CHECKING:
    from collections.abc import Mapping

    from capture.adapters.provider import PaymentProvider
    from capture.settings import Settings
    from paykit.dispatch import GiveUp, Handler
    from paykit.health import WsgiApp
    from payment_events.events import Event


@dataclass
class CaptureService:
    # Not named `Capture` like Billing or Orders: that is the provider's answer to a capture.
    wiring: Wiring
    handlers: Mapping[type[Event], Handler[CaptureUnitOfWork]]
    give_up: Mapping[type[Event], GiveUp[CaptureUnitOfWork]]
    # The read-only balances API, served on the health port under these path prefixes.
    routes: dict[str, WsgiApp]

    def unit_of_work(self) -> CaptureUnitOfWork:
        return CaptureUnitOfWork(self.wiring.session_factory, self.wiring.codec)


def bootstrap(settings: Settings, provider: PaymentProvider | None = None) -> CaptureService:
    start_mappers()
    port = provider or ProviderClient(settings.psp_url, settings.psp_timeout_seconds)
    wiring = wire(settings)
    return CaptureService(
        wiring,
        handlers={t: functools.partial(h, provider=port) for t, h in HANDLERS.items()},
        give_up={t: functools.partial(g, provider=port) for t, g in GIVE_UP.items()},
        routes=balances_routes(wiring.engine),
    )
