"""`python -m billing`: runs billing-consumer until SIGTERM."""

from __future__ import annotations

from billing.bootstrap import bootstrap
from billing.settings import Settings
from paykit.service import run_consumer_service
from payment_events.catalog import topics_consumed_by


def main() -> None:
    settings = Settings()
    billing = bootstrap(settings)
    run_consumer_service(
        billing.wiring,
        topics=topics_consumed_by(settings.service_name),
        handlers=billing.handlers,
        uow_factory=billing.unit_of_work,
        give_up=billing.give_up,
    )
