"""How the API answers a request it accepted: `202` pointing at the status to poll, and
`Idempotent-Replayed: true` when an idempotency key replays the first answer."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from fastapi.responses import JSONResponse

if TYPE_CHECKING:
    from bff.domain.idempotency import Answer

# How soon a polling frontend should ask again: the happy path takes a few hundred ms.
RETRY_AFTER_SECONDS = "1"


def accepted(answer: Answer, *, replayed: bool) -> JSONResponse:
    headers = {"Location": answer.body["status_url"], "Retry-After": RETRY_AFTER_SECONDS}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(answer.body, status_code=answer.status_code, headers=headers)


def canonical_id(resource_id: str) -> str:
    """A payment or session id as the BFF stores it; "" (no one's id) when it is not a UUID."""
    try:
        return str(uuid.UUID(resource_id))
    except ValueError:
        return ""
