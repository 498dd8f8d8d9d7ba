"""`python -m payctl.baseline`: creates the tables, then serves the baseline on
BASELINE_HOST:BASELINE_PORT with BASELINE_WORKERS uvicorn workers until SIGTERM or Ctrl-C."""

from __future__ import annotations

import uvicorn

from payctl.baseline.settings import Settings
from payctl.baseline.tables import create_tables
from paykit.db import make_engine
from paykit.logging import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging("baseline", settings.log_level, settings.log_format)
    # Once, before the workers start: their CREATE TABLEs would collide.
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        create_tables(engine)
    finally:
        engine.dispose()
    # An import string and a factory: with more than one worker, each process builds its app.
    uvicorn.run(
        "payctl.baseline.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
    )
