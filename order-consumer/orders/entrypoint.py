"""`python -m orders`: runs order-consumer until SIGTERM."""

from __future__ import annotations

from orders.bootstrap import bootstrap
from orders.settings import Settings
from paykit.service import run_consumer_service
from payment_events.catalog import topics_consumed_by


def main() -> None:
    settings = Settings()
    orders = bootstrap(settings)
    run_consumer_service(
        orders.wiring,
        topics=topics_consumed_by(settings.service_name),
        handlers=orders.handlers,
        uow_factory=orders.unit_of_work,
        give_up=orders.give_up,
        routes=orders.routes,
        state_handlers=orders.orders,
    )
