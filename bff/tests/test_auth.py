"""Bearer tokens and the secret they are signed with."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import ValidationError

from bff.auth import (
    AUDIENCE,
    LEEWAY_SECONDS,
    Unauthenticated,
    bearer_token,
    issue_token,
    verify_token,
)
from bff.settings import Settings
from paykit.settings import DEVELOPMENT_SECRET

SECRET = "test-secret-for-the-bff-0123456789abcdef"


def test_an_issued_token_names_its_client() -> None:
    assert verify_token(SECRET, issue_token(SECRET, "shop-frontend", 60)) == "shop-frontend"


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = issue_token("another-secret-of-enough-length-0123456789", "shop", 60)
    with pytest.raises(Unauthenticated):
        verify_token(SECRET, token)


def test_an_expired_token_is_refused() -> None:
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(SECRET, issue_token(SECRET, "shop", -120))


def test_a_token_accepted_before_is_refused_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = issue_token(SECRET, "shop", 60)
    assert verify_token(SECRET, token) == "shop"
    later = time.time() + 60 + LEEWAY_SECONDS
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthenticated, match="expired"):
        verify_token(SECRET, token)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "shop", "aud": "another-api"},
        {"sub": "shop"},
        {"aud": AUDIENCE},
    ],
)
def test_a_token_for_another_audience_or_without_a_subject_is_refused(
    claims: dict[str, str],
) -> None:
    exp = datetime.now(UTC) + timedelta(minutes=1)
    with pytest.raises(Unauthenticated):
        verify_token(SECRET, jwt.encode({**claims, "exp": exp}, SECRET, algorithm="HS256"))


def test_an_unsigned_token_is_refused() -> None:
    token = jwt.encode({"sub": "shop", "aud": AUDIENCE}, None, algorithm="none")
    with pytest.raises(Unauthenticated):
        verify_token(SECRET, token)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", "Basic abc", "token abc"])
def test_only_a_bearer_header_carries_a_token(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer_token(header)
    assert bearer_token("Bearer abc") == bearer_token("bearer abc") == "abc"


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValidationError, match="real secret"):
        Settings(PAYMENTS_ENV="production")
    assert Settings(PAYMENTS_ENV="production", BFF_AUTH_SECRET=SECRET).auth_secret == SECRET
    assert Settings().auth_secret == DEVELOPMENT_SECRET


def test_a_secret_shorter_than_the_hash_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(BFF_AUTH_SECRET="short")


def test_a_refused_secret_is_not_echoed_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "too-short-but-still-a-secret"
    monkeypatch.setenv("BFF_AUTH_SECRET", secret)

    with pytest.raises(ValidationError) as refused:
        Settings()

    assert "BFF_AUTH_SECRET" in str(refused.value)
    assert secret not in str(refused.value)
    assert secret not in repr(refused.value)


def test_the_settings_never_show_the_secret() -> None:
    assert SECRET not in repr(Settings(BFF_AUTH_SECRET=SECRET))
