"""How the API answers a request it accepted: `202` pointing at the status to poll, and
`Idempotent-Replayed: true` when an idempotency key replays the first answer."""

from __future__ import annotations

import uuid

from bff.api.models import PaymentAccepted
from bff.api.rendering import OrjsonResponse
from bff.domain.idempotency import Answer
from bff.domain.status import PaymentStatus

# How soon a polling frontend should ask again: the happy path takes a few hundred ms.
RETRY_AFTER_SECONDS = "1"


def payment_accepted(payment_id: str, status_url: str) -> Answer:
    """The answer to a new payment, stored with its idempotency key: PROCESSING, and where to
    follow it."""
    body = PaymentAccepted(
        payment_id=payment_id, status=PaymentStatus.PROCESSING, status_url=status_url
    )
    return Answer(202, body.model_dump(mode="json"))


def accepted(answer: Answer, *, replayed: bool) -> OrjsonResponse:
    headers = {"Location": answer.body["status_url"], "Retry-After": RETRY_AFTER_SECONDS}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return OrjsonResponse(answer.body, status_code=answer.status_code, headers=headers)


def canonical_id(resource_id: str) -> str:
    """A payment or session id as the BFF stores it; "" (no one's id) when it is not a UUID."""
    try:
        return str(uuid.UUID(resource_id))
    except ValueError:
        return ""
