"""`python -m bff.projector`: runs the status projector and the outbox relay until SIGTERM."""

from __future__ import annotations

from bff.projector.bootstrap import bootstrap
from bff.settings import ProjectorSettings
from paykit.service import run_consumer_service
from payment_events.catalog import topics_consumed_by

# The catalog names the BFF as a consumer; the projector is the BFF's process that consumes.
CATALOG_NAME = "bff"


def main() -> None:
    settings = ProjectorSettings()
    projector = bootstrap(settings)
    run_consumer_service(
        projector.wiring,
        topics=topics_consumed_by(CATALOG_NAME),
        handlers=projector.handlers,
        uow_factory=projector.unit_of_work,
        state_handlers=projector.statuses,
    )
