"""Reads the request of an accept route (`POST /v1/payments`, paying a checkout session) as the
route is served directly (`paykit.direct_routes`): its body decoded and checked by its model in
one call, its headers by the limits `api.deps` declares. A request with anything wrong is not
read here: FastAPI then refuses it, every problem at once, as the API documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from bff.api.deps import CORRELATION_ID, IDEMPOTENCY_KEY, MAX_HEADER_LENGTH

if TYPE_CHECKING:
    from starlette.requests import Request

Body = TypeVar("Body", bound=BaseModel)


@dataclass(frozen=True)
class AcceptRequest(Generic[Body]):
    body: Body
    idempotency_key: str
    # None when absent or empty.
    correlation_id: str | None


async def read_accept_request(request: Request, model: type[Body]) -> AcceptRequest[Body] | None:
    """The request's body and headers; None when FastAPI would refuse them."""
    headers = request.headers
    key = headers.get(IDEMPOTENCY_KEY)
    correlation_id = headers.get(CORRELATION_ID)
    if not key or len(key) > MAX_HEADER_LENGTH:
        return None
    if correlation_id is not None and len(correlation_id) > MAX_HEADER_LENGTH:
        return None
    if not _json(headers.get("content-type")):
        return None
    try:
        body = model.model_validate_json(await request.body())
    except ValidationError:
        return None
    return AcceptRequest(body, key, correlation_id or None)


def _json(content_type: str | None) -> bool:
    # FastAPI decodes a body as JSON without a content type too; other JSON types (`+json`) and
    # encodings are rare enough to leave to it.
    return content_type is None or content_type.partition(";")[0].strip().lower() == (
        "application/json"
    )
