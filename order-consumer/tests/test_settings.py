"""order-consumer's settings: safe defaults outside production, none inside it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orders.settings import Settings
from paykit.settings import DEVELOPMENT_SECRET


def test_the_development_signing_key_is_refused_in_production() -> None:
    with pytest.raises(ValidationError, match="sso_signing_key"):
        Settings(PAYMENTS_ENV="production", SSO_SIGNING_KEY=DEVELOPMENT_SECRET)
    real = Settings(
        PAYMENTS_ENV="production", SSO_SIGNING_KEY="a-real-key-from-the-vault-0123456789"
    )
    assert real.sso_signing_key.startswith("a-real-key")


def test_blocked_customers_are_a_comma_separated_list() -> None:
    settings = Settings(ORDERS_BLOCKED_CUSTOMERS=" cus_a, cus_b,,")
    assert settings.blocked_customer_ids == {"cus_a", "cus_b"}
    assert Settings(ORDERS_BLOCKED_CUSTOMERS="cus_blocked").blocked_customer_ids == {"cus_blocked"}
