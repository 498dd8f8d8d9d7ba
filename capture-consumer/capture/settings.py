"""capture-consumer's settings."""

from __future__ import annotations

from pydantic import Field

from paykit.settings import ConsumerServiceSettings


class Settings(ConsumerServiceSettings):
    service_name: str = "capture-consumer"
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/capture", validation_alias="CAPTURE_DATABASE_URL"
    )
    psp_url: str = Field("http://127.0.0.1:8010", validation_alias="PSP_URL")
    psp_timeout_seconds: float = Field(5.0, validation_alias="PSP_TIMEOUT_SECONDS")
