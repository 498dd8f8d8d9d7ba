"""order-consumer's settings."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from orders.adapters.sso import signing_key
from paykit.settings import ConsumerServiceSettings


class Settings(ConsumerServiceSettings):
    # A refused value is not echoed in the error (it ends up in logs): it may be the key.
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    service_name: str = "order-consumer"
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/orders", validation_alias="ORDERS_DATABASE_URL"
    )
    # An Ed25519 private key in PEM. Unset, a development process makes one of its own, which
    # dies with it (payctl gives every instance of a stack the same one); production refuses.
    sso_signing_key: str | None = Field(
        None, validation_alias="SSO_SIGNING_KEY", repr=False, exclude=True
    )
    sso_audience: str = Field("saas-app", validation_alias="SSO_AUDIENCE")
    saas_app_url: str = Field("http://127.0.0.1:8030", validation_alias="SAAS_APP_URL")
    blocked_customers: str = Field("cus_blocked", validation_alias="ORDERS_BLOCKED_CUSTOMERS")

    @model_validator(mode="after")
    def _signing_key_is_usable(self) -> Self:
        if self.sso_signing_key is None and self.environment == "production":
            raise ValueError(
                "SSO_SIGNING_KEY (an Ed25519 private key in PEM) is needed in production"
            )
        if self.sso_signing_key is not None:
            signing_key(self.sso_signing_key)  # a key that cannot sign is refused at start
        return self

    @property
    def blocked_customer_ids(self) -> frozenset[str]:
        """`ORDERS_BLOCKED_CUSTOMERS` is comma-separated; blanks around ids are ignored."""
        return frozenset(c.strip() for c in self.blocked_customers.split(",") if c.strip())
