"""Settings of the BFF's two processes: the HTTP API and the status projector."""

from __future__ import annotations

from pathlib import Path  # noqa: TC003 pydantic resolves it at run time
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from paykit.settings import (
    DEVELOPMENT_SECRET,
    ConsumerServiceSettings,
    RuntimeSettings,
    SecretChecked,
)

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/bff"
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


class Settings(RuntimeSettings, SecretChecked):
    """`python -m bff`, the HTTP API."""

    # A refused value is not echoed in the error (it ends up in logs): it may be the secret, or
    # a database URL with a password in it.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="BFF_DATABASE_URL")
    host: str = Field("127.0.0.1", validation_alias="BFF_HOST")
    port: int = Field(8000, ge=0, le=65535, validation_alias="BFF_PORT")
    # Server processes sharing the port. One is enough for a developer; each runs its routes on
    # threads that share one interpreter lock, so a busy API wants one per core.
    workers: int = Field(1, ge=1, validation_alias="BFF_WORKERS")
    # uvicorn's line per request: what the request metrics count and the accept path logs as
    # its own event already, at about a tenth of the accept path's CPU; on when asked.
    access_log: bool = Field(False, validation_alias="BFF_ACCESS_LOG")
    # Where the workers write their metrics, so that a scrape of /metrics counts the requests of
    # all of them whichever one answers it (prometheus_client's multiprocess mode, which reads
    # the variable itself). Needed with more than one worker; emptied at each start.
    metrics_dir: Path | None = Field(None, validation_alias="PROMETHEUS_MULTIPROC_DIR")
    # Ends in `_secret`, so SecretChecked refuses the development default in production. HS256
    # keys shorter than the hash (32 bytes) weaken it (RFC 7518, section 3.2).
    auth_secret: str = Field(
        DEVELOPMENT_SECRET, min_length=32, validation_alias="BFF_AUTH_SECRET", repr=False
    )

    # Where browsers reach this API: checkout URLs are made of it. Behind a proxy or a load
    # balancer it is the public address, not the one the server listens on.
    public_url: str | None = Field(None, validation_alias="BFF_PUBLIC_URL")
    # The SaaS app the checkout page signs the shopper in to (the page POSTs the SSO token there,
    # so its Content-Security-Policy must allow that one form target); the same variable tells
    # order-consumer where the token's redirect goes.
    saas_app_url: str = Field("http://127.0.0.1:8030", validation_alias="SAAS_APP_URL")

    @property
    def checkout_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @model_validator(mode="after")
    def _checkout_urls_name_a_reachable_address(self) -> Self:
        if self.public_url is None and self.host in WILDCARD_HOSTS:
            raise ValueError(
                f"BFF_HOST={self.host} listens on every interface, which is no address a browser "
                "can open: set BFF_PUBLIC_URL, where browsers reach this API (checkout URLs are "
                "made of it)"
            )
        return self

    @model_validator(mode="after")
    def _workers_share_their_metrics(self) -> Self:
        if self.workers > 1 and self.metrics_dir is None:
            raise ValueError(
                "BFF_WORKERS above 1 needs PROMETHEUS_MULTIPROC_DIR, a directory the workers "
                "share: without it /metrics would count the requests of one worker only"
            )
        return self


class ProjectorSettings(ConsumerServiceSettings):
    """`python -m bff.projector`, which keeps the status read model and relays the outbox."""

    model_config = SettingsConfigDict(hide_input_in_errors=True)

    service_name: str = "bff-projector"
    database_url: str = Field(DEFAULT_DATABASE_URL, validation_alias="BFF_DATABASE_URL")
