"""`python -m bff`: serves the API on BFF_HOST:BFF_PORT with BFF_WORKERS processes until SIGTERM
or Ctrl-C."""

from __future__ import annotations

from typing import TYPE_CHECKING

import uvicorn

from bff.settings import Settings
from paykit.logging import configure_logging

if TYPE_CHECKING:
    from pathlib import Path


def main() -> None:
    settings = Settings()
    configure_logging(
        "bff", settings.log_level, settings.log_format, access_log=settings.access_log
    )
    if settings.metrics_dir is not None:
        _forget_earlier_metrics(settings.metrics_dir)
    # By name: each worker process builds its own app (bff.main.app_from_environment).
    # log_config=None: uvicorn's lines go through the structlog renderer set up above.
    uvicorn.run(
        "bff.main:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=None,
        access_log=settings.access_log,
    )


def _forget_earlier_metrics(metrics_dir: Path) -> None:
    # A scrape sums every file in the directory: the files of an earlier run would be added in.
    # Before any worker starts, so none of this run's is removed.
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for earlier in metrics_dir.glob("*.db"):
        earlier.unlink()


if __name__ == "__main__":
    main()
