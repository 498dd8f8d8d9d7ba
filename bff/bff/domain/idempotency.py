"""Idempotency keys: the same key with the same request replays the first answer; the same key
with another request is refused. Keys are scoped per authenticated client."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bff.domain.errors import IdempotencyKeyReused

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict[str, Any]


def fingerprint(request: Mapping[str, Any]) -> str:
    """The request as its key protects it: the same fields in any order or spacing match."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(key: str, stored_fingerprint: str, request_fingerprint: str, first: Answer) -> Answer:
    if stored_fingerprint != request_fingerprint:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was first used with another request; use a new key "
            "for a new payment or refund",
            field="Idempotency-Key",
        )
    return first
