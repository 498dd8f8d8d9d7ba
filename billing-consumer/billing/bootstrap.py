"""The one wiring point of billing: settings in, a runnable service out; tests pass fakes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from billing.adapters.orm import start_mappers
from billing.handlers import GIVE_UP, HANDLERS
from billing.unit_of_work import BillingUnitOfWork
from paykit.provider import ProviderClient
from paykit.service import Wiring, wire

if TYPE_CHECKING:
    from collections.abc import Mapping

    from billing.adapters.provider import PaymentProvider
    from billing.settings import Settings
    from paykit.dispatch import GiveUp, Handler
    from payment_events.events import Event


@dataclass
class Billing:
    wiring: Wiring
    handlers: Mapping[type[Event], Handler[BillingUnitOfWork]]
    give_up: Mapping[type[Event], GiveUp[BillingUnitOfWork]]

    def unit_of_work(self) -> BillingUnitOfWork:
        return BillingUnitOfWork(self.wiring.session_factory, self.wiring.codec)


def bootstrap(settings: Settings, provider: PaymentProvider | None = None) -> Billing:
    start_mappers()
    port = provider or ProviderClient(settings.psp_url, settings.psp_timeout_seconds)
    handlers = {t: functools.partial(h, provider=port) for t, h in HANDLERS.items()}
    give_up = {t: functools.partial(h, provider=port) for t, h in GIVE_UP.items()}
    return Billing(wire(settings), handlers, give_up)
