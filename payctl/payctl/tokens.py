"""Development secrets and bearer tokens: what payctl hands the BFF and the order-consumer, and a
token the BFF accepts, signed with the same secret."""

from __future__ import annotations

from typing import TYPE_CHECKING

from paykit.settings import DEVELOPMENT_SECRET

if TYPE_CHECKING:
    from collections.abc import Mapping


def bff_auth_secret(env: Mapping[str, str]) -> str:
    return env.get("BFF_AUTH_SECRET") or DEVELOPMENT_SECRET


def sso_signing_key(env: Mapping[str, str]) -> str:
    return env.get("SSO_SIGNING_KEY") or DEVELOPMENT_SECRET


def development_token(env: Mapping[str, str], subject: str, ttl_seconds: int) -> str:
    # Imported here: payctl's other verbs must work while the BFF package is being changed.
    from bff.auth import issue_token

    return issue_token(bff_auth_secret(env), subject, ttl_seconds)
