"""`python -m psp_sim`: serves the simulated provider until SIGTERM or Ctrl-C."""

from __future__ import annotations

import uvicorn

from paykit.logging import configure_logging
from psp_sim.app import create_app
from psp_sim.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging("psp-sim", settings.log_level, settings.log_format)
    # log_config=None: uvicorn's own loggers go through the logging set up above.
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=settings.access_log,
    )
