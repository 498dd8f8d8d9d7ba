"""The one wiring point of orders: settings in, a runnable service out; tests pass fakes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

from orders.adapters.orm import start_mappers
from orders.adapters.sso import JWKS_PATH, JwksApi, JwtSsoIssuer, signing_key
from orders.handlers import GIVE_UP, HANDLERS
from orders.unit_of_work import OrdersUnitOfWork
from paykit.service import Wiring, wire

if TYPE_CHECKING:
    from collections.abc import Mapping

    from orders.adapters.sso import SsoIssuer
    from orders.settings import Settings
    from paykit.dispatch import GiveUp, Handler
    from paykit.health import WsgiApp
    from payment_events.events import Event


@dataclass
class Orders:
    wiring: Wiring
    handlers: Mapping[type[Event], Handler[OrdersUnitOfWork]]
    give_up: Mapping[type[Event], GiveUp[OrdersUnitOfWork]]
    # Served by the health server: the public key set the SaaS app verifies tokens with.
    routes: dict[str, WsgiApp]

    def unit_of_work(self) -> OrdersUnitOfWork:
        return OrdersUnitOfWork(self.wiring.session_factory, self.wiring.codec)


def bootstrap(settings: Settings, sso: SsoIssuer | None = None) -> Orders:
    start_mappers()
    key = signing_key(settings.sso_signing_key)
    issuer = sso or JwtSsoIssuer(key, settings.sso_audience, settings.saas_app_url)
    ports = {"sso": issuer, "blocked_customers": settings.blocked_customer_ids}
    handlers = {t: functools.partial(h, **ports) for t, h in HANDLERS.items()}
    give_up = {t: functools.partial(h, **ports) for t, h in GIVE_UP.items()}
    return Orders(wire(settings), handlers, give_up, {JWKS_PATH: JwksApi(key)})
