"""psp-sim's settings."""

from __future__ import annotations

from pydantic import Field

from paykit.settings import RuntimeSettings
from psp_sim.behaviour import Failure, Switches


class Settings(RuntimeSettings):
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/psp", validation_alias="PSP_DATABASE_URL"
    )
    host: str = Field("127.0.0.1", validation_alias="PSP_HOST")
    port: int = Field(8010, validation_alias="PSP_PORT")
    # A line per request costs more CPU than the operation it logs; on when asked.
    access_log: bool = Field(False, validation_alias="PSP_ACCESS_LOG")
    # The switches it starts with; the admin API changes them while it runs. PSP_FAILURE is
    # JSON in the admin API's shape, e.g. {"kind": "error_5xx", "rate": 0.05}.
    latency_ms: int = Field(50, ge=0, validation_alias="PSP_LATENCY_MS")
    jitter_ms: int = Field(25, ge=0, validation_alias="PSP_JITTER_MS")
    failure: Failure | None = Field(None, validation_alias="PSP_FAILURE")
    seed: int | None = Field(None, validation_alias="PSP_SEED")

    def switches(self) -> Switches:
        return Switches(
            latency_ms=self.latency_ms,
            jitter_ms=self.jitter_ms,
            failure=self.failure,
            seed=self.seed,
        )
