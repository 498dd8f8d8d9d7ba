"""Settings of the BFF's two processes: the HTTP API and the status projector."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from paykit.settings import (
    DEVELOPMENT_SECRET,
    ConsumerServiceSettings,
    RuntimeSettings,
    SecretChecked,
)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/bff"


class Settings(RuntimeSettings, SecretChecked):
    """`python -m bff`, the HTTP API."""

    # A refused value is not echoed in the error (it ends up in logs): it may be the secret, or
    # a database URL with a password in it.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="BFF_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="BFF_HOST")
    port: int = Field(8000, ge=0, le=65535, validation_alias="BFF_PORT")
    # Ends in `_secret`, so SecretChecked refuses the development default in production. HS256
    # keys shorter than the hash (32 bytes) weaken it (RFC 7518, section 3.2).
    auth_secret: str = Field(
        DEVELOPMENT_SECRET, min_length=32, validation_alias="BFF_AUTH_SECRET", repr=False
    )


class ProjectorSettings(ConsumerServiceSettings):
    """`python -m bff.projector`, which keeps the status read model and relays the outbox."""

    model_config = SettingsConfigDict(hide_input_in_errors=True)

    service_name: str = "bff-projector"
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="BFF_DATABASE_URL")
