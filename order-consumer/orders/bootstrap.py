"""The one wiring point of orders: settings in, a runnable service out; tests pass fakes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orders.adapters.sso import JWKS_PATH, JwksApi, JwtSsoIssuer, signing_key
from orders.handlers import GIVE_UP, HANDLERS, ORDERS
from paykit.service import Wiring, wire
from paykit.states import StateHandlers, per_message
from paykit.unit_of_work import UnitOfWork

if TYPE_CHECKING:
    from collections.abc import Mapping

    from orders.adapters.sso import SsoIssuer
    from orders.domain.model import Order
    from orders.settings import Settings
    from paykit.dispatch import GiveUp, Handler
    from paykit.health import WsgiApp
    from payment_events.events import Event


@dataclass
class Orders:
    wiring: Wiring
    orders: StateHandlers[Order]
    give_up: Mapping[type[Event], GiveUp[UnitOfWork]]
    # Served by the health server: the public key set the SaaS app verifies tokens with.
    routes: dict[str, WsgiApp]

    @property
    def handlers(self) -> Mapping[type[Event], Handler[Any]]:
        """The same handlers one message at a time in a unit of work: the retry schedule's
        path, and the path of a payment its batch could not apply."""
        return per_message(self.orders)

    def unit_of_work(self) -> UnitOfWork:
        return UnitOfWork(self.wiring.session_factory, self.wiring.codec)


def bootstrap(settings: Settings, sso: SsoIssuer | None = None) -> Orders:
    key = signing_key(settings.sso_signing_key)
    issuer = sso or JwtSsoIssuer(key, settings.sso_audience, settings.saas_app_url)
    ports = {"sso": issuer, "blocked_customers": settings.blocked_customer_ids}
    handlers = {t: functools.partial(h, **ports) for t, h in HANDLERS.items()}
    give_up = {t: functools.partial(h, **ports) for t, h in GIVE_UP.items()}
    return Orders(
        wire(settings), StateHandlers(ORDERS, handlers), give_up, {JWKS_PATH: JwksApi(key)}
    )
