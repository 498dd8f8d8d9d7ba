"""saas-demo's settings."""

from __future__ import annotations

from pydantic import Field

from paykit.settings import RuntimeSettings


class Settings(RuntimeSettings):
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/saas", validation_alias="SAAS_DATABASE_URL"
    )
    host: str = Field("127.0.0.1", validation_alias="SAAS_HOST")
    port: int = Field(8030, ge=0, le=65535, validation_alias="SAAS_PORT")
    # Where order-consumer publishes the public keys its tokens are signed with (its health
    # server); fetched when a token names a key not seen yet, and kept for 5 minutes.
    jwks_url: str = Field(
        "http://127.0.0.1:9103/.well-known/jwks.json", validation_alias="SSO_JWKS_URL"
    )
    # What a token must say: who signed it and that it is meant for this app.
    issuer: str = Field("order-consumer", validation_alias="SSO_ISSUER")
    audience: str = Field("saas-app", validation_alias="SSO_AUDIENCE")
    # The cookie of a signed-in session goes over HTTPS only; the embedded stack is plain HTTP.
    secure_cookies: bool = Field(False, validation_alias="SAAS_SECURE_COOKIES")
