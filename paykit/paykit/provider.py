"""The client of the payment provider's HTTP API (psp-sim speaks it): authorize, capture, void,
refund and look up operations. Failures come out as the runtime's error kinds:
`ProviderUnavailable` is retried, and its subclass `OutcomeUnknown` says the operation may have
been performed (settle it with `find_operations` before giving up on it); `ProviderRejected` is
dead-lettered. A declined authorization is an answer, not an error. Every call is counted in
`payments_provider_requests_total{operation, outcome}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Self

import httpx

from paykit.errors import PermanentError, RetryLater
from paykit.metrics import PROVIDER_REQUESTS

if TYPE_CHECKING:
    from types import TracebackType

OperationKind = Literal["authorization", "capture", "void", "refund"]
# What a call did, as `payments_provider_requests_total` labels it.
Call = Literal["authorize", "capture", "void", "refund", "find_operations"]
CALLS: tuple[Call, ...] = ("authorize", "capture", "void", "refund", "find_operations")
Outcome = Literal["ok", "rejected", "unavailable", "unknown"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "rejected", "unavailable", "unknown")


class ProviderUnavailable(RetryLater):
    """The provider could not be asked, or answered that it cannot say: the call is retried with
    the same idempotency key, which can never charge twice."""

    code = "provider_unavailable"


class OutcomeUnknown(ProviderUnavailable):
    """The operation may have been performed: the request could have reached the provider (a
    timeout or a connection cut after sending, a 5xx, an unreadable answer). Retried like any
    unavailability; a caller that stops retrying asks `find_operations` what happened first."""

    code = "provider_outcome_unknown"


class ProviderRejected(PermanentError):
    """The provider refused the request; sending it again would be refused again."""

    def __init__(self, code: str, message: str, status_code: int) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class Authorization:
    id: str
    status: Literal["authorized", "declined"]
    amount_minor: int
    currency: str
    reference: str
    decline_code: str | None
    decline_reason: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> Authorization:
        return cls(
            id=body["id"],
            status=body["status"],
            amount_minor=body["amount_minor"],
            currency=body["currency"],
            reference=body["reference"],
            decline_code=body.get("decline_code"),
            decline_reason=body.get("decline_reason"),
        )


@dataclass(frozen=True)
class Capture:
    id: str
    authorization_id: str
    amount_minor: int
    reference: str
    status: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Capture:
        return cls(
            id=body["id"],
            authorization_id=body["authorization_id"],
            amount_minor=body["amount_minor"],
            reference=body["reference"],
            status=body["status"],
        )


@dataclass(frozen=True)
class Void:
    id: str
    authorization_id: str
    status: str

    @classmethod
    def of(cls, body: dict[str, Any]) -> Void:
        return cls(id=body["id"], authorization_id=body["authorization_id"], status=body["status"])


@dataclass(frozen=True)
class Refund:
    id: str
    capture_id: str
    amount_minor: int
    currency: str
    status: str
    created_at: datetime

    @classmethod
    def of(cls, body: dict[str, Any]) -> Refund:
        return cls(
            id=body["id"],
            capture_id=body["capture_id"],
            amount_minor=body["amount_minor"],
            currency=body["currency"],
            status=body["status"],
            created_at=datetime.fromisoformat(body["created_at"]),
        )


@dataclass(frozen=True)
class Operation:
    """One row of the provider's ledger: what it did for one idempotency key."""

    kind: OperationKind
    id: str
    idempotency_key: str
    reference: str
    authorization_id: str
    amount_minor: int | None
    currency: str
    status: str
    decline_code: str | None
    decline_reason: str | None
    created_at: datetime
    capture_id: str | None = None  # a refund's capture

    @classmethod
    def of(cls, body: dict[str, Any]) -> Operation:
        return cls(
            kind=body["kind"],
            id=body["id"],
            idempotency_key=body["idempotency_key"],
            reference=body["reference"],
            authorization_id=body["authorization_id"],
            amount_minor=body.get("amount_minor"),
            currency=body["currency"],
            status=body["status"],
            decline_code=body.get("decline_code"),
            decline_reason=body.get("decline_reason"),
            created_at=datetime.fromisoformat(body["created_at"]),
            capture_id=body.get("capture_id"),
        )


class ProviderClient:
    """Synchronous and thread-safe; one instance per process keeps its connections pooled."""

    def __init__(
        self, base_url: str, timeout: float = 5.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        # `transport` lets tests stand in for a provider's servers; production leaves it unset.
        self._http = httpx.Client(base_url=base_url, timeout=timeout, transport=transport)
        # Every series exists from the start at 0: one that appeared at its first increment
        # would hide that increment from rate(), and the first errors of an outage with it.
        for call in CALLS:
            for outcome in OUTCOMES:
                PROVIDER_REQUESTS.labels(call, outcome)

    def authorize(
        self,
        *,
        idempotency_key: str,
        amount_minor: int,
        currency: str,
        payment_method: str,
        reference: str,
    ) -> Authorization:
        body = {
            "amount_minor": amount_minor,
            "currency": currency,
            "payment_method": payment_method,
            "reference": reference,
        }
        return Authorization.of(
            self._post("authorize", "/v1/authorizations", idempotency_key, body)
        )

    def capture(
        self, *, idempotency_key: str, authorization_id: str, amount_minor: int, reference: str
    ) -> Capture:
        path = f"/v1/authorizations/{authorization_id}/capture"
        body = {"amount_minor": amount_minor, "reference": reference}
        return Capture.of(self._post("capture", path, idempotency_key, body))

    def void(self, *, idempotency_key: str, authorization_id: str, reference: str) -> Void:
        path = f"/v1/authorizations/{authorization_id}/void"
        return Void.of(self._post("void", path, idempotency_key, {"reference": reference}))

    def refund(
        self, *, idempotency_key: str, capture_id: str, amount_minor: int, reference: str
    ) -> Refund:
        path = f"/v1/captures/{capture_id}/refunds"
        body = {"amount_minor": amount_minor, "reference": reference}
        return Refund.of(self._post("refund", path, idempotency_key, body))

    def find_operations(self, idempotency_key: str) -> list[Operation]:
        """What the provider did for this key, if anything: how a timed-out call is settled."""
        found = self._send(
            "find_operations",
            "GET",
            "/v1/operations",
            params={"idempotency_key": idempotency_key},
        )
        return [Operation.of(op) for op in found["operations"]]

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _post(
        self, call: Call, path: str, idempotency_key: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        headers = {"Idempotency-Key": idempotency_key}
        return self._send(call, "POST", path, json=body, headers=headers)

    def _send(self, call: Call, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            body = self._request(method, path, **kwargs)
        except (ProviderRejected, ProviderUnavailable) as e:
            PROVIDER_REQUESTS.labels(call, _outcome_of(e)).inc()
            raise
        PROVIDER_REQUESTS.labels(call, "ok").inc()
        return body

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        # Only a POST performs an operation: a read that failed has no outcome to lose.
        unknown = OutcomeUnknown if method == "POST" else ProviderUnavailable
        try:
            response = self._http.request(method, path, **kwargs)
        except NOT_SENT as e:
            raise ProviderUnavailable(f"{method} {path}: {type(e).__name__}: {e}") from e
        except httpx.TransportError as e:  # timed out or cut off once sending began
            raise unknown(f"{method} {path}: {type(e).__name__}: {e}") from e
        refusal = _refusal_of(response) if 400 <= response.status_code < 500 else None
        if refusal is not None:
            raise ProviderRejected(*refusal, response.status_code)
        if response.status_code >= 400:
            # 5xx, 429 (call later), 401/403 (our credentials), 408, or a 4xx that is not the
            # provider's refusal (a wrong URL, a proxy): a fault of the world, never a verdict on
            # the payment, so it must be retried and never recorded as a final refusal. Only a
            # 5xx may come after the provider acted.
            failed = unknown if response.status_code >= 500 else ProviderUnavailable
            raise failed(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
        try:
            body: dict[str, Any] = response.json()
        except ValueError as e:  # a 2xx we cannot read: the provider may have acted, ask again
            raise unknown(f"{method} {path}: unreadable answer: {e}") from e
        return body


# Failures before any byte of the request left: the provider cannot have acted on it. Every other
# transport error (a read or write timeout, a dropped connection) may come after it did.
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
)

# Statuses that say nothing about the request itself, whatever the body.
NOT_A_REFUSAL = {401, 403, 408, 429}


def _refusal_of(response: httpx.Response) -> tuple[str, str] | None:
    """The provider's own refusal (its `code` and `message`), or None for any other 4xx."""
    if response.status_code in NOT_A_REFUSAL:
        return None
    try:
        body = response.json()
        return str(body["code"]), str(body["message"])
    except (ValueError, KeyError, TypeError):
        return None


def _outcome_of(error: ProviderRejected | ProviderUnavailable) -> Outcome:
    if isinstance(error, ProviderRejected):
        return "rejected"
    return "unknown" if isinstance(error, OutcomeUnknown) else "unavailable"
