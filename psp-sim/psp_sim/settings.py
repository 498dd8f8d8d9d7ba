"""psp-sim's settings."""

from __future__ import annotations

from pydantic import Field

from paykit.settings import RuntimeSettings


class Settings(RuntimeSettings):
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/psp", validation_alias="PSP_DATABASE_URL"
    )
    host: str = Field("127.0.0.1", validation_alias="PSP_HOST")
    port: int = Field(8010, validation_alias="PSP_PORT")
    latency_ms: int = Field(50, ge=0, validation_alias="PSP_LATENCY_MS")
    jitter_ms: int = Field(25, ge=0, validation_alias="PSP_JITTER_MS")
