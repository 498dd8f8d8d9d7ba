"""Development secrets and bearer tokens: what payctl hands the BFF and the order-consumer (the
stack's SSO signing key), and a token the BFF accepts, signed with the same secret."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from paykit.settings import DEVELOPMENT_SECRET

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path


def bff_auth_secret(env: Mapping[str, str]) -> str:
    return env.get("BFF_AUTH_SECRET") or DEVELOPMENT_SECRET


def sso_signing_key(env: Mapping[str, str], key_file: Path) -> str:
    """`SSO_SIGNING_KEY`, or the stack's own Ed25519 key in `key_file`, made on first use and
    kept with the data, so that tokens signed before a restart still verify after it."""
    given = env.get("SSO_SIGNING_KEY")
    if given:
        return given
    if not key_file.exists():
        key_file.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Readable by its owner only, from the moment it exists.
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    return key_file.read_text()


def development_token(env: Mapping[str, str], subject: str, ttl_seconds: int) -> str:
    # Imported here: payctl's other verbs must work while the BFF package is being changed.
    from bff.auth import issue_token

    return issue_token(bff_auth_secret(env), subject, ttl_seconds)
