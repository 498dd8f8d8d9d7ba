"""`python -m saas_demo`: serves the demo SaaS app until SIGTERM or Ctrl-C."""

from __future__ import annotations

import uvicorn

from paykit.logging import configure_logging
from saas_demo.app import create_app
from saas_demo.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging("saas-demo", settings.log_level, settings.log_format)
    # log_config=None: uvicorn's own loggers go through the logging set up above.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)
