"""order-consumer's settings."""

from __future__ import annotations

from pydantic import Field

from paykit.settings import DEVELOPMENT_SECRET, ConsumerServiceSettings, SecretChecked


class Settings(ConsumerServiceSettings, SecretChecked):
    service_name: str = "order-consumer"
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/orders", validation_alias="ORDERS_DATABASE_URL"
    )
    # Ends in `_key`, so SecretChecked refuses the development default in production.
    sso_signing_key: str = Field(DEVELOPMENT_SECRET, validation_alias="SSO_SIGNING_KEY")
    sso_audience: str = Field("saas-app", validation_alias="SSO_AUDIENCE")
    saas_app_url: str = Field("http://127.0.0.1:8000/saas", validation_alias="SAAS_APP_URL")
    blocked_customers: str = Field("cus_blocked", validation_alias="ORDERS_BLOCKED_CUSTOMERS")

    @property
    def blocked_customer_ids(self) -> frozenset[str]:
        """`ORDERS_BLOCKED_CUSTOMERS` is comma-separated; blanks around ids are ignored."""
        return frozenset(c.strip() for c in self.blocked_customers.split(",") if c.strip())
