"""The baseline's settings, read from the environment like every service's."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from paykit.settings import RuntimeSettings, SecretChecked


class Settings(RuntimeSettings, SecretChecked):
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/baseline", validation_alias="BASELINE_DATABASE_URL"
    )
    host: str = Field("127.0.0.1", validation_alias="BASELINE_HOST")
    port: int = Field(8020, ge=0, le=65535, validation_alias="BASELINE_PORT")
    workers: int = Field(1, ge=1, validation_alias="BASELINE_WORKERS")
    psp_url: str = Field("http://127.0.0.1:8010", validation_alias="PSP_URL")
    psp_timeout_seconds: float = Field(5.0, gt=0, validation_alias="PSP_TIMEOUT_SECONDS")
    # The order-consumer's SSO settings: the baseline signs the same token it does.
    sso_signing_key: str | None = Field(None, validation_alias="SSO_SIGNING_KEY", repr=False)
    sso_audience: str = Field("saas-app", validation_alias="SSO_AUDIENCE")
    saas_app_url: str = Field("http://127.0.0.1:8030", validation_alias="SAAS_APP_URL")
