"""`python -m capture`: runs capture-consumer until SIGTERM."""

from __future__ import annotations

from capture.bootstrap import bootstrap
from capture.settings import Settings
from paykit.service import run_consumer_service
from payment_events.catalog import topics_consumed_by


def main() -> None:
    settings = Settings()
    capture = bootstrap(settings)
    run_consumer_service(
        capture.wiring,
        topics=topics_consumed_by(settings.service_name),
        handlers=capture.handlers,
        uow_factory=capture.unit_of_work,
        give_up=capture.give_up,
        routes=capture.routes,
    )
