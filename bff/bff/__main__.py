"""`python -m bff`: serves the API on BFF_HOST:BFF_PORT until SIGTERM or Ctrl-C."""

from __future__ import annotations

import uvicorn

from bff.main import create_app
from bff.settings import Settings
from paykit.logging import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging("bff", settings.log_level, settings.log_format)
    # log_config=None: uvicorn's lines go through the structlog renderer set up above.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_config=None)


if __name__ == "__main__":
    main()
