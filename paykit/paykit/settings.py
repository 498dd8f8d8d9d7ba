"""Settings every process shares; each service extends `RuntimeSettings` with its own."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from paykit.retries import RetryPolicy

DEVELOPMENT_SECRET = "dev-only-secret-change-me-0123456789abcdef"


class RuntimeSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Literal["development", "test", "production"] = Field(
        "development", validation_alias="PAYMENTS_ENV"
    )
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    schema_registry_url: str | None = Field(None, validation_alias="SCHEMA_REGISTRY_URL")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["auto", "json", "console"] = Field("auto", validation_alias="LOG_FORMAT")
    health_host: str = Field("127.0.0.1", validation_alias="HEALTH_HOST")
    health_port: int = Field(0, validation_alias="HEALTH_PORT")


class ConsumerServiceSettings(RuntimeSettings):
    """A consumer service: its database, its group, and how it batches."""

    service_name: str = "consumer"
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres",
        validation_alias=AliasChoices("SERVICE_DATABASE_URL", "DATABASE_URL"),
    )
    consumer_group: str | None = Field(None, validation_alias="CONSUMER_GROUP")
    # Names this instance in its client.id, where the group's description shows who owns which
    # partitions; the host name when unset. (Membership is dynamic: kafka.consumer_config.)
    consumer_instance_id: str | None = Field(None, validation_alias="CONSUMER_INSTANCE_ID")
    # Messages taken from the broker at once: what one batch handles (paykit.batches), or what
    # the loop hands its lanes.
    consume_batch_size: int = Field(500, ge=1, validation_alias="CONSUME_BATCH_SIZE")
    # The batch runtime takes, beside the first message, what arrives this long after it: each
    # hop waits up to this long more, and a light load costs fewer, fuller transactions.
    consume_linger_ms: float = Field(20.0, ge=0, le=1000, validation_alias="CONSUME_LINGER_MS")
    # `batch`: one transaction per batch (paykit.batches), for a service whose handlers are
    # functions of its state (paykit.states); the others run `lanes`, the per-message runtime
    # (paykit.consumer), which `lanes` also forces on every service.
    consumer_runtime: Literal["batch", "lanes"] = Field(
        "batch", validation_alias="CONSUMER_RUNTIME"
    )
    # Lanes handling messages at once (paykit.lanes): a payment's messages share one lane and
    # keep their order; the database pool is sized from it.
    consumer_concurrency: int = Field(32, ge=1, validation_alias="CONSUMER_CONCURRENCY")
    relay_batch_size: int = Field(500, validation_alias="RELAY_BATCH_SIZE")
    # An idle relay is woken by the database when rows are committed; it looks this often anyway
    # (at most 30: its health check wants a cycle a minute).
    relay_sweep_seconds: float = Field(10.0, gt=0, le=30, validation_alias="RELAY_SWEEP_SECONDS")
    # The retry schedule (paykit.retries): attempts before giving up, and the backoff between
    # them (doubling from the base, capped, jittered). The defaults give up after 2 to 4 minutes.
    retry_max_attempts: int = Field(10, ge=1, validation_alias="RETRY_MAX_ATTEMPTS")
    retry_base_seconds: float = Field(1.0, gt=0, validation_alias="RETRY_BASE_SECONDS")
    retry_max_delay_seconds: float = Field(60.0, gt=0, validation_alias="RETRY_MAX_DELAY_SECONDS")

    @property
    def group_id(self) -> str:
        return self.consumer_group or self.service_name

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            self.retry_max_attempts, self.retry_base_seconds, self.retry_max_delay_seconds
        )


def refuse_development_secret(environment: str, secret: str, name: str) -> None:
    if environment == "production" and secret == DEVELOPMENT_SECRET:
        raise ValueError(f"{name} must be set to a real secret in production")


class SecretChecked(BaseSettings):
    """Mixin check: secrets keep their development default only outside production."""

    @model_validator(mode="after")
    def _secrets_are_real(self) -> SecretChecked:
        for name, value in self.__dict__.items():
            if name.endswith(("_secret", "_key")) and isinstance(value, str):
                refuse_development_secret(getattr(self, "environment", "development"), value, name)
        return self
